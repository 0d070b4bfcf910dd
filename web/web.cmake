# canopy_web: makes the pages (web/page.html.in, one template for them all),
# and copies web/assets/ and uPlot's dist files from web/node_modules
# (`npm ci` in web/, which scripts/deps.sh runs) into
# ${PROJECT_BINARY_DIR}/web, where canopyd serves them from by default.
# A missing node_modules does not fail the build: the pages are copied, and a
# message says what to run to get the charts.
add_custom_target(canopy_web ALL
  COMMAND ${CMAKE_COMMAND}
    -DSRC=${PROJECT_SOURCE_DIR}/web
    -DOUT=${PROJECT_BINARY_DIR}/web
    -P ${PROJECT_SOURCE_DIR}/web/copy_web.cmake
  COMMENT "Copying the web pages to ${PROJECT_BINARY_DIR}/web"
  VERBATIM)
