# Reads native/build.json, the addon's one list of sources, defines and flags, into CMake
# variables for CMakeLists.txt. binding.gyp reads the same file through
# scripts/build-config.js. Sets S4_TARGET, S4_CPU_SOURCES, S4_CUDA_SOURCES (absolute,
# expanded like file(GLOB), re-expanded at build time when files come or go), S4_DEFINES,
# S4_RELEASE_DEFINES, S4_CXX_FLAGS, S4_CUDA_ARCHITECTURES_DEFAULT, S4_CUDA_STANDARD,
# S4_CUDA_DEFINES, S4_CUDA_FLAGS and S4_VERSION (package.json's version).
set(S4_ROOT ${CMAKE_CURRENT_LIST_DIR}/..)
file(READ ${S4_ROOT}/native/build.json S4_BUILD_JSON)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${S4_ROOT}/native/build.json)

# s4_json_list(<out> <key>...): the JSON array at <key>... as a CMake list.
function(s4_json_list out)
  string(JSON n LENGTH "${S4_BUILD_JSON}" ${ARGN})
  set(items "")
  if(n GREATER 0)
    math(EXPR last "${n} - 1")
    foreach(i RANGE ${last})
      string(JSON item GET "${S4_BUILD_JSON}" ${ARGN} ${i})
      list(APPEND items "${item}")
    endforeach()
  endif()
  set(${out} "${items}" PARENT_SCOPE)
endfunction()

# s4_sources(<out> cpu|cuda): the files matched by that list's '<folder>/*.<ext>' patterns,
# sorted as one list (the link order, the same in both builds).
function(s4_sources out kind)
  s4_json_list(patterns sources ${kind})
  set(files "")
  foreach(pattern IN LISTS patterns)
    if(NOT pattern MATCHES "^[A-Za-z0-9_./-]+/\\*\\.[A-Za-z0-9]+$")
      message(FATAL_ERROR "native/build.json: source pattern '${pattern}' is not '<folder>/*.<ext>'")
    endif()
    file(GLOB matched CONFIGURE_DEPENDS ${S4_ROOT}/${pattern})
    list(APPEND files ${matched})
  endforeach()
  list(SORT files)
  set(${out} "${files}" PARENT_SCOPE)
endfunction()

string(JSON S4_TARGET GET "${S4_BUILD_JSON}" target)
s4_sources(S4_CPU_SOURCES cpu)
s4_sources(S4_CUDA_SOURCES cuda)
s4_json_list(S4_DEFINES defines)
s4_json_list(S4_RELEASE_DEFINES releaseDefines)
s4_json_list(S4_CXX_FLAGS cxxFlags)
s4_json_list(S4_CUDA_ARCHITECTURES_DEFAULT cuda architectures)
string(JSON S4_CUDA_STANDARD GET "${S4_BUILD_JSON}" cuda standard)
s4_json_list(S4_CUDA_DEFINES cuda defines)
s4_json_list(S4_CUDA_FLAGS cuda flags)

file(READ ${S4_ROOT}/package.json S4_PACKAGE_JSON)
string(JSON S4_VERSION GET "${S4_PACKAGE_JSON}" version)
