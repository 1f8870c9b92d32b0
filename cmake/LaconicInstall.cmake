include(CMakePackageConfigHelpers)

install(TARGETS laconic laconic_headers EXPORT laconicTargets)
if(LACONIC_PRECOMPILED)
  install(TARGETS laconic_precompiled EXPORT laconicTargets)
endif()
install(DIRECTORY include/laconic TYPE INCLUDE)
install(EXPORT laconicTargets
  NAMESPACE laconic::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
# Each component's target in an export file of its own, loaded by
# find_package(laconic COMPONENTS <name>) only: mpi, runtime, torch (laconicConfig.cmake.in).
function(laconic_install_component target export)
  install(TARGETS ${target} EXPORT ${export})
  install(EXPORT ${export}
    NAMESPACE laconic::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
endfunction()
if(LACONIC_WITH_MPI)
  laconic_install_component(laconic_mpi laconicMpiTargets)
endif()
if(LACONIC_USE_RUNTIME)
  laconic_install_component(laconic_runtime laconicRuntimeTargets)
endif()
if(LACONIC_USE_TORCH)
  laconic_install_component(laconic_torch laconicTorchTargets)
endif()

configure_package_config_file(cmake/laconicConfig.cmake.in
  ${PROJECT_BINARY_DIR}/laconicConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
# While laconic is 0.x, a minor release may break the API: only the same minor version matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/laconicConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES
  ${PROJECT_BINARY_DIR}/laconicConfig.cmake
  ${PROJECT_BINARY_DIR}/laconicConfigVersion.cmake
  cmake/LaconicDependencies.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
install(FILES LICENSE README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
