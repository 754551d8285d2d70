# steppar_add_plugin(NAME [SOURCES] src... [LIBRARIES lib...] [OUTPUT_DIRECTORY dir] [VERSION v])
#
# Builds a steppar node plugin: a shared library NAME.so (no "lib" prefix) that exports only
# its descriptor (steppar_plugin_descriptor). Reference it from a pipeline file as a path or,
# when it sits on the plugin path ($STEPPAR_PLUGIN_PATH), by NAME. The descriptor carries NAME
# and VERSION (default: the project's version), which `steppar-host validate` shows.
function(steppar_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "OUTPUT_DIRECTORY;VERSION" "SOURCES;LIBRARIES")
  set(sources ${ARG_SOURCES} ${ARG_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "steppar_add_plugin(${name}): no SOURCES given")
  endif()
  add_library(${name} MODULE ${sources})
  if(TARGET steppar::sdk)
    target_link_libraries(${name} PRIVATE steppar::sdk ${ARG_LIBRARIES})
  else()
    target_link_libraries(${name} PRIVATE steppar_sdk ${ARG_LIBRARIES})
  endif()
  set_target_properties(${name} PROPERTIES PREFIX "" CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  set(version "${ARG_VERSION}")
  if(NOT version)
    set(version "${PROJECT_VERSION}")
  endif()
  # The same value in every source file of the plugin (the descriptor is one definition).
  target_compile_definitions(${name} PRIVATE STEPPAR_PLUGIN_NAME="${name}" STEPPAR_PLUGIN_VERSION="${version}")
  # GCC marks libraries holding STB_GNU_UNIQUE symbols as not unloadable, so a rebuilt plugin
  # reopened under the same path would keep running old code; plugins need no such symbols.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${name} PRIVATE -fno-gnu-unique)
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  endif()
endfunction()
