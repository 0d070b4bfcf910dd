# cmake -DPROGRAM=<binary> -DOUT=<file> [-DSET=flag=value;...] -P config_file.cmake
#
# Writes PROGRAM's --config_example (every flag, commented out, with its help
# and default) to OUT, with the flags of SET uncommented and given those
# values: the /etc/canopy/*.conf that the install and the packages ship, made
# from the flags themselves so that it never drifts from them.
execute_process(COMMAND ${PROGRAM} --config_example
  OUTPUT_VARIABLE text RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --config_example failed (${rc})")
endif()
foreach(setting ${SET})
  string(REGEX MATCH "^[a-z_]+" name "${setting}")
  string(REGEX REPLACE "\n#${name}=[^\n]*\n" "\n${setting}\n" replaced "${text}")
  if(replaced STREQUAL text)
    message(FATAL_ERROR "${PROGRAM} has no flag --${name}")
  endif()
  set(text "${replaced}")
endforeach()
file(WRITE ${OUT} "${text}")
