include(CMakePackageConfigHelpers)

install(TARGETS laconic EXPORT laconicTargets)
install(DIRECTORY include/laconic TYPE INCLUDE)
install(EXPORT laconicTargets
  NAMESPACE laconic::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
# laconic::mpi in a file of its own, loaded by find_package(laconic COMPONENTS mpi) only.
if(LACONIC_WITH_MPI)
  install(TARGETS laconic_mpi EXPORT laconicMpiTargets)
  install(EXPORT laconicMpiTargets
    NAMESPACE laconic::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
endif()

# laconic::runtime likewise, loaded by find_package(laconic COMPONENTS runtime).
if(LACONIC_USE_RUNTIME)
  install(TARGETS laconic_runtime EXPORT laconicRuntimeTargets)
  install(EXPORT laconicRuntimeTargets
    NAMESPACE laconic::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
endif()

# laconic::torch likewise, loaded by find_package(laconic COMPONENTS torch), which finds LibTorch.
if(LACONIC_USE_TORCH)
  install(TARGETS laconic_torch EXPORT laconicTorchTargets)
  install(EXPORT laconicTorchTargets
    NAMESPACE laconic::
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/laconic)
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
