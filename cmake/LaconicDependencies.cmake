# Finds laconic's dependencies. Included by the build and by the installed package config;
# inside the config a missing dependency makes find_package(laconic) fail politely.
include(CMakeFindDependencyMacro)

macro(_laconic_require)
  if(DEFINED CMAKE_FIND_PACKAGE_NAME)
    find_dependency(${ARGV})
  else()
    find_package(${ARGV} REQUIRED)
  endif()
endmacro()

# Eigen 5 no longer answers versioned look-ups for 3.x, so ask without a version and check.
_laconic_require(Eigen3 NO_MODULE)
if(Eigen3_VERSION VERSION_LESS 3.4)
  set(_laconic_eigen_message "laconic needs Eigen >= 3.4, found ${Eigen3_VERSION}")
  if(DEFINED CMAKE_FIND_PACKAGE_NAME)
    set(${CMAKE_FIND_PACKAGE_NAME}_NOT_FOUND_MESSAGE "${_laconic_eigen_message}")
    set(${CMAKE_FIND_PACKAGE_NAME}_FOUND FALSE)
    return()
  endif()
  message(FATAL_ERROR "${_laconic_eigen_message}")
endif()
_laconic_require(fmt)
set(THREADS_PREFER_PTHREAD_FLAG ON)
_laconic_require(Threads)
