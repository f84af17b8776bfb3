# Host data is not the CPU backend (the house style): every header under
# include/perceptual/io and include/perceptual/train must reach no backend header, nor OpenBLAS,
# oneDNN or xtensor. Asks the compiler for each header's includes (-M) and fails naming the header
# and what it reached. Run by ctest: cmake -DCXX=<compiler> -DSOURCE_DIR=<repo> -DINCLUDES=<dirs,
# separated by |> -P host_headers.cmake
string(REPLACE "|" ";" includes "${INCLUDES}")
set(flags -std=c++20)
foreach(dir IN LISTS includes)
  if(dir)
    list(APPEND flags -I${dir})
  endif()
endforeach()

file(GLOB headers ${SOURCE_DIR}/include/perceptual/io/*.hpp ${SOURCE_DIR}/include/perceptual/train/*.hpp)
list(LENGTH headers count)
if(count EQUAL 0)
  message(FATAL_ERROR "host_headers: no headers under ${SOURCE_DIR}/include/perceptual/io or train")
endif()

set(failures "")
foreach(header IN LISTS headers)
  file(RELATIVE_PATH name ${SOURCE_DIR}/include ${header})
  execute_process(COMMAND ${CXX} ${flags} -M -x c++ ${header} OUTPUT_VARIABLE deps ERROR_VARIABLE errors
                  RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "host_headers: ${name} does not preprocess alone:\n${errors}")
  endif()
  string(REGEX MATCHALL "[^ \\\n]*(perceptual/backend/|cblas\\.h|dnnl|xtensor)[^ \\\n]*" reached "${deps}")
  if(reached)
    list(REMOVE_DUPLICATES reached)
    list(SUBLIST reached 0 3 reached)  # the first few: the way in
    list(JOIN reached "\n    " reached)
    string(APPEND failures "  ${name} reaches:\n    ${reached}\n")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "host_headers: io/ and train/ must include only core/, io/ and the layers, nets, losses and "
                      "optim headers, never backend/ (the code that picks a backend includes it):\n${failures}")
endif()
message(STATUS "host_headers: ${count} io/ and train/ headers reach no backend, OpenBLAS, oneDNN or xtensor header")
