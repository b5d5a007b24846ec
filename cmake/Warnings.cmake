# Warnings are errors for our own code. Applied per target through cn_target_defaults so that
# generated protobuf/gRPC code (which we do not control) can be compiled with fewer checks.
function(cn_target_defaults target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
    -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Wformat=2)
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
endfunction()

# Adds a GoogleTest executable with the given sources and libraries, registered with CTest.
# LABEL unit tests are the ones CI also runs under the sanitizers.
function(cn_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_LABEL)
    set(ARG_LABEL unit)
  endif()
  add_executable(${name} ${ARG_SOURCES})
  cn_target_defaults(${name})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${name} PROPERTIES LABELS ${ARG_LABEL} DISCOVERY_TIMEOUT 60)
  set_property(GLOBAL APPEND PROPERTY CN_TESTS_LABELLED_${ARG_LABEL} ${name})
endfunction()
