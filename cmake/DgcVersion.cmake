# dgc_version_target(LLVM_VERSION): the interface library DgcVersion, whose
# users include dgc/Version.h (version, commit, LLVM; WriteVersion.cmake).
#
# The header is written at configure time and again when git's HEAD or index
# changes (a commit, a checkout), not at every build: a header rewritten at
# every build would relink dgc and recompile every test module each time.
function(dgc_version_target llvm_version)
  set(source_dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/..)
  set(header ${PROJECT_BINARY_DIR}/include/dgc/Version.h)
  set(stamp ${PROJECT_BINARY_DIR}/include/dgc/Version.stamp)
  set(write ${CMAKE_COMMAND} -DSOURCE_DIR=${source_dir} -DOUTPUT=${header}
            -DDGC_VERSION=${PROJECT_VERSION} -DLLVM_VERSION=${llvm_version}
            -P ${source_dir}/cmake/WriteVersion.cmake)
  execute_process(COMMAND ${write})
  set(git_state)
  foreach(file HEAD index)
    if(EXISTS ${source_dir}/.git/${file})
      list(APPEND git_state ${source_dir}/.git/${file})
    endif()
  endforeach()
  add_custom_command(
    OUTPUT ${stamp}
    BYPRODUCTS ${header}
    COMMAND ${write}
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${source_dir}/cmake/WriteVersion.cmake
            ${source_dir}/include/dgc/Version.h.in ${git_state}
    COMMENT "dgc version header")
  add_custom_target(dgc-version DEPENDS ${stamp})
  add_library(DgcVersion INTERFACE)
  target_include_directories(DgcVersion INTERFACE ${PROJECT_BINARY_DIR}/include)
  add_dependencies(DgcVersion dgc-version)
endfunction()
