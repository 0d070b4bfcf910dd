# What `cmake --install` lays out and `cpack -G DEB` packages
# (docs/QUICKSTART.md, "Installing"):
#
#   bin/canopyd canopy-agent canopy
#   share/canopy/web/            the pages with uPlot (canopy_web)
#   share/canopy/regexes.yaml    ua-parser's uap-core (canopy_data)
#   share/man/man1/*.1.gz        from each program's --help (help2man)
#   etc/canopy/canopyd.conf, canopy-agent.conf   every flag, commented out
#                                (--config_example; /etc when PREFIX is /usr)
#   lib/systemd/system/canopyd.service, canopy-agent.service
#                                (/lib/systemd/system when PREFIX is /usr)
#
# The programs find share/canopy from their own binary (canopy/install_dirs.h),
# so the tree can be moved; only the units and the config files name absolute
# paths, worked out at install time from the prefix.
#
# Components, one Debian package each: common (canopy-common: regexes.yaml,
# arch all), server (canopyd), agent (canopy-agent), cli (canopy-cli).
include(GNUInstallDirs)

# ua-parser's regexes.yaml beside the programs of the build tree
# (build/share/canopy/), where SharedPath finds it as it does once installed.
set(CANOPY_REGEXES ${PROJECT_SOURCE_DIR}/pipes/node_modules/uap-core/regexes.yaml)
set(CANOPY_SHARE_BUILD ${PROJECT_BINARY_DIR}/share/canopy)
if(EXISTS ${CANOPY_REGEXES})
  add_custom_command(OUTPUT ${CANOPY_SHARE_BUILD}/regexes.yaml
    COMMAND ${CMAKE_COMMAND} -E copy ${CANOPY_REGEXES} ${CANOPY_SHARE_BUILD}/regexes.yaml
    DEPENDS ${CANOPY_REGEXES}
    COMMENT "Copying ua-parser's regexes.yaml to share/canopy")
  add_custom_target(canopy_data ALL DEPENDS ${CANOPY_SHARE_BUILD}/regexes.yaml)
else()
  message(WARNING "${CANOPY_REGEXES} is missing: browsers and OSes are not "
    "named (the ua pipe is off). Run `npm ci` in pipes/ (scripts/deps.sh does).")
  add_custom_target(canopy_data ALL)
endif()

# The config files, from the flags (packaging/config_file.cmake), with the
# paths a daemon uses: its data in /var/lib/canopy (the units' StateDirectory).
set(CANOPY_ETC_BUILD ${PROJECT_BINARY_DIR}/etc/canopy)
add_custom_command(OUTPUT ${CANOPY_ETC_BUILD}/canopyd.conf
  COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:canopyd>
    -DOUT=${CANOPY_ETC_BUILD}/canopyd.conf -DSET=data_dir=/var/lib/canopy
    -P ${PROJECT_SOURCE_DIR}/packaging/config_file.cmake
  DEPENDS canopyd ${PROJECT_SOURCE_DIR}/packaging/config_file.cmake
  COMMENT "Writing etc/canopy/canopyd.conf from canopyd's flags")
add_custom_command(OUTPUT ${CANOPY_ETC_BUILD}/canopy-agent.conf
  COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:canopy-agent>
    -DOUT=${CANOPY_ETC_BUILD}/canopy-agent.conf
    -DSET=spool_dir=/var/lib/canopy/agent/spool
    -P ${PROJECT_SOURCE_DIR}/packaging/config_file.cmake
  DEPENDS canopy-agent ${PROJECT_SOURCE_DIR}/packaging/config_file.cmake
  COMMENT "Writing etc/canopy/canopy-agent.conf from canopy-agent's flags")
set(canopy_generated ${CANOPY_ETC_BUILD}/canopyd.conf ${CANOPY_ETC_BUILD}/canopy-agent.conf)

# Man pages from --help and --version (Debian's help2man).
find_program(CANOPY_HELP2MAN help2man)
find_program(CANOPY_GZIP gzip)
set(CANOPY_MAN_BUILD ${PROJECT_BINARY_DIR}/share/man/man1)
set(canopy_man_pages "")
if(CANOPY_HELP2MAN AND CANOPY_GZIP)
  foreach(pair "canopyd|canopyd|canopy's realtime metrics server"
               "canopy-agent|canopy-agent|pushes this machine's figures to canopyd"
               "canopy-cli|canopy|the command-line client of canopyd")
    string(REPLACE "|" ";" pair "${pair}")
    list(GET pair 0 target)
    list(GET pair 1 name)
    list(GET pair 2 what)
    add_custom_command(OUTPUT ${CANOPY_MAN_BUILD}/${name}.1.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CANOPY_MAN_BUILD}
      COMMAND ${CANOPY_HELP2MAN} --no-info --no-discard-stderr --section=1
        --name=${what} --output=${CANOPY_MAN_BUILD}/${name}.1 $<TARGET_FILE:${target}>
      COMMAND ${CANOPY_GZIP} -9nf ${CANOPY_MAN_BUILD}/${name}.1
      DEPENDS ${target}
      COMMENT "Writing the man page of ${name} (help2man)"
      VERBATIM)
    list(APPEND canopy_man_pages ${CANOPY_MAN_BUILD}/${name}.1.gz)
  endforeach()
else()
  message(STATUS "help2man not found: no man pages (Debian: help2man)")
endif()
add_custom_target(canopy_install_files ALL DEPENDS ${canopy_generated} ${canopy_man_pages})

# --- install rules ---------------------------------------------------------
install(TARGETS canopyd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
install(TARGETS canopy-agent RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT agent)
install(TARGETS canopy-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT cli)
if(CANOPY_BUILD_WEB)
  install(DIRECTORY ${PROJECT_BINARY_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/canopy/web
    COMPONENT server)
endif()
if(EXISTS ${CANOPY_REGEXES})
  install(FILES ${CANOPY_SHARE_BUILD}/regexes.yaml DESTINATION ${CMAKE_INSTALL_DATADIR}/canopy
    COMPONENT common)
endif()
foreach(pair "canopyd|server" "canopy-agent|agent" "canopy|cli")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 name)
  list(GET pair 1 component)
  if(canopy_man_pages)
    install(FILES ${CANOPY_MAN_BUILD}/${name}.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
      COMPONENT ${component})
  endif()
endforeach()

# The config files and units name absolute paths, so they are written at
# install time for the prefix installed to (/etc and /lib/systemd/system
# for /usr, as Debian has them). A config file already there is kept.
foreach(pair "canopyd|server" "canopy-agent|agent")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 name)
  list(GET pair 1 component)
  install(CODE "
    set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
    if(prefix STREQUAL \"/usr\")
      set(etc /etc)
      set(units /lib/systemd/system)
    else()
      set(etc \"\${prefix}/etc\")
      set(units \"\${prefix}/lib/systemd/system\")
    endif()
    set(BINDIR \"\${prefix}/bin\")
    set(SYSCONFDIR \"\${etc}\")
    configure_file(\"${PROJECT_SOURCE_DIR}/packaging/${name}.service.in\"
      \"${PROJECT_BINARY_DIR}/units/\${etc}/${name}.service\" @ONLY)
    file(INSTALL \"${PROJECT_BINARY_DIR}/units/\${etc}/${name}.service\"
      DESTINATION \"\${units}\"
      PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    if(EXISTS \"\$ENV{DESTDIR}\${etc}/canopy/${name}.conf\")
      message(STATUS \"Keeping: \$ENV{DESTDIR}\${etc}/canopy/${name}.conf\")
    else()
      file(INSTALL \"${CANOPY_ETC_BUILD}/${name}.conf\"
        DESTINATION \"\${etc}/canopy\"
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
  " COMPONENT ${component})
endforeach()

# --- Debian packages: cpack -G DEB (from the build directory) ----------------
# Each package's copyright and changelog, and the maintainer scripts of the
# two daemons (packaging/maintainer.sh.in).
set(CANOPY_DEB_BUILD ${PROJECT_BINARY_DIR}/packaging)
string(TIMESTAMP canopy_date "%a, %d %b %Y %H:%M:%S +0000" UTC)
set(CANOPY_DEB_CONTACT "canopy maintainers <canopy@example.org>" CACHE STRING
  "The Maintainer of the Debian packages")
foreach(pair "common|canopy-common" "server|canopyd" "agent|canopy-agent" "cli|canopy-cli")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 package)
  set(doc ${CANOPY_DEB_BUILD}/${package}/doc)
  file(MAKE_DIRECTORY ${doc})
  file(WRITE ${doc}/changelog
    "${package} (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
    "  * Built from canopy ${PROJECT_VERSION} (commit ${CANOPY_COMMIT}).\n\n"
    " -- ${CANOPY_DEB_CONTACT}  ${canopy_date}\n")
  # Installed only when packaging: /usr/share/doc/<package>/.
  install(CODE "
    if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
      execute_process(COMMAND gzip -9nf \"${doc}/changelog\" -c
        OUTPUT_FILE \"${doc}/changelog.gz\")
      file(INSTALL \"${doc}/changelog.gz\" \"${PROJECT_SOURCE_DIR}/packaging/copyright\"
        DESTINATION \"/usr/share/doc/${package}\"
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
  " COMPONENT ${component})
endforeach()
foreach(pair "server|canopyd|canopyd.service" "agent|canopy-agent|canopy-agent.service")
  string(REPLACE "|" ";" pair "${pair}")
  list(GET pair 0 component)
  list(GET pair 1 PACKAGE)
  list(GET pair 2 UNIT)
  set(dir ${CANOPY_DEB_BUILD}/${PACKAGE}/control)
  foreach(SCRIPT postinst prerm postrm)
    configure_file(${PROJECT_SOURCE_DIR}/packaging/maintainer.sh.in ${dir}/${SCRIPT} @ONLY
      FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
        WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${dir}/conffiles "/etc/canopy/${PACKAGE}.conf\n")
  string(TOUPPER ${component} C)
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_EXTRA ${dir}/postinst ${dir}/prerm ${dir}/postrm ${dir}/conffiles)
  set(CPACK_DEBIAN_${C}_PACKAGE_CONTROL_STRICT_PERMISSION ON)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME canopy)
set(CPACK_PACKAGE_VENDOR canopy)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CANOPY_DEB_CONTACT}")
# Installed with DESTDIR=<staging> and the prefix /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL common server agent cli)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/canopy/canopy")
set(CPACK_DEBIAN_COMMON_PACKAGE_NAME canopy-common)
set(CPACK_DEBIAN_COMMON_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_COMMON_DESCRIPTION "canopy's shared data
ua-parser's regexes.yaml (uap-core), with which canopyd and canopy-agent name
the browsers and operating systems of access logs.")
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME canopyd)
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "canopy-common (= ${PROJECT_VERSION}), adduser")
set(CPACK_DEBIAN_SERVER_DESCRIPTION "canopy's realtime metrics server
canopyd keeps a live tree of metrics pushed over HTTP, UDP and TCP (JSON,
StatsD, Graphite), serves it by long-poll and as web pages, and keeps its
history in LevelDB. The canopyd service runs as the canopy user with its
data in /var/lib/canopy; settings are in /etc/canopy/canopyd.conf.")
set(CPACK_DEBIAN_AGENT_PACKAGE_NAME canopy-agent)
set(CPACK_DEBIAN_AGENT_PACKAGE_DEPENDS "canopy-common (= ${PROJECT_VERSION}), adduser")
set(CPACK_DEBIAN_AGENT_PACKAGE_RECOMMENDS "libcurl4")
set(CPACK_DEBIAN_AGENT_DESCRIPTION "pushes this machine's figures to canopyd
canopy-agent collects CPU, memory, disks, network, processes, checks and
access logs every interval and pushes them to canopyd. The canopy-agent
service runs as the canopy user; settings are in
/etc/canopy/canopy-agent.conf.")
set(CPACK_DEBIAN_CLI_PACKAGE_NAME canopy-cli)
set(CPACK_DEBIAN_CLI_DESCRIPTION "command-line client of canopyd
canopy gets, watches, pushes, draws, compares and exports the metrics of a
canopyd server (CANOPY_SERVER, CANOPY_TOKEN), and sends access logs to its
pipes.")
include(CPack)
