# install-test.cmake (cmake -P): installs the build into a scratch prefix, then builds and runs
# docs/examples/consumer against it twice: with find_package(quarry) and with pkg-config.
# Variables: BUILD_DIR, SOURCE_DIR, WORK_DIR, C_COMPILER.
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed: ${rc}")
endif()

# find_package(quarry)
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/docs/examples/consumer"
                        -B "${WORK_DIR}/consumer" "-DCMAKE_PREFIX_PATH=${prefix}"
                        "-DCMAKE_C_COMPILER=${C_COMPILER}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "configuring the consumer failed:\n${out}\n${err}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/consumer"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "building the consumer failed:\n${out}\n${err}")
endif()
execute_process(COMMAND "${WORK_DIR}/consumer/consumer" "${WORK_DIR}/db1"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "the consumer (find_package) failed: ${out}${err}")
endif()
message(STATUS "find_package consumer: ${out}")

# pkg-config
file(GLOB_RECURSE pcfile "${prefix}/*/quarry.pc")
if(NOT pcfile)
  message(FATAL_ERROR "quarry.pc was not installed")
endif()
get_filename_component(pcdir "${pcfile}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pcdir}")
execute_process(COMMAND pkg-config --cflags --libs quarry
                RESULT_VARIABLE rc OUTPUT_VARIABLE flags ERROR_VARIABLE err
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(rc)
  message(FATAL_ERROR "pkg-config --cflags --libs quarry failed: ${err}")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
string(REGEX MATCH "-L[^ ;]+" libflag "${flags}")
string(SUBSTRING "${libflag}" 2 -1 libdir)
execute_process(COMMAND "${C_COMPILER}" "${SOURCE_DIR}/docs/examples/consumer/consumer.c"
                        -o "${WORK_DIR}/consumer-pc" ${flags} "-Wl,-rpath,${libdir}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "compiling with pkg-config flags (${flags}) failed:\n${out}\n${err}")
endif()
execute_process(COMMAND "${WORK_DIR}/consumer-pc" "${WORK_DIR}/db2"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "the consumer (pkg-config) failed: ${out}${err}")
endif()
message(STATUS "pkg-config consumer: ${out}")
file(REMOVE_RECURSE "${WORK_DIR}")
