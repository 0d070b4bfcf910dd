# cmake -DSRC=<web source dir> -DOUT=<output dir> -P copy_web.cmake
file(GLOB pages ${SRC}/*.html)
file(COPY ${pages} DESTINATION ${OUT})
file(COPY ${SRC}/assets DESTINATION ${OUT})
set(uplot ${SRC}/node_modules/uplot/dist)
if(EXISTS ${uplot}/uPlot.esm.js AND EXISTS ${uplot}/uPlot.min.css)
  file(COPY ${uplot}/uPlot.esm.js ${uplot}/uPlot.min.css DESTINATION ${OUT}/assets/uplot)
else()
  message(WARNING "canopy_web: ${uplot} is missing, so the trend charts will not load. "
    "Run `npm ci` in ${SRC} (scripts/deps.sh does) and build again.")
endif()
