# cmake -DSRC=<web source dir> -DOUT=<output dir> -P copy_web.cmake
#
# Makes the pages from the one template, web/page.html.in, and copies the
# assets and uPlot's dist files beside them.

# canopy_page(NAME TITLE [STYLESHEET...]): OUT/NAME.html, loading
# /assets/NAME.js, titled "canopy: TITLE", with the stylesheets before
# canopy.css.
function(canopy_page name title)
  file(READ ${SRC}/page.html.in template)
  # The template's own comment stays in the source.
  string(REGEX REPLACE "^<!--[^>]*-->\n" "" template "${template}")
  set(PAGE ${name})
  set(PAGE_TITLE ${title})
  set(PAGE_STYLESHEETS "")
  foreach(css ${ARGN})
    string(APPEND PAGE_STYLESHEETS "<link rel=\"stylesheet\" href=\"${css}\">\n")
  endforeach()
  string(CONFIGURE "${template}" page @ONLY)
  file(WRITE ${OUT}/${name}.html "${page}")
endfunction()

file(MAKE_DIRECTORY ${OUT})
canopy_page(overview "overview" /assets/uplot/uPlot.min.css)
canopy_page(host "host" /assets/uplot/uPlot.min.css)
canopy_page(realtime "live tree")
canopy_page(trend "trend" /assets/uplot/uPlot.min.css)
canopy_page(settings "views")
canopy_page(diff "diff")

file(COPY ${SRC}/assets DESTINATION ${OUT})
set(uplot ${SRC}/node_modules/uplot/dist)
if(EXISTS ${uplot}/uPlot.esm.js AND EXISTS ${uplot}/uPlot.min.css)
  file(COPY ${uplot}/uPlot.esm.js ${uplot}/uPlot.min.css DESTINATION ${OUT}/assets/uplot)
else()
  message(WARNING "canopy_web: ${uplot} is missing, so the trend charts will not load. "
    "Run `npm ci` in ${SRC} (scripts/deps.sh does) and build again.")
endif()
