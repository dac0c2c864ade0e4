# Writes dgc's version header (run with cmake -P when git's HEAD or index
# changes, cmake/DgcVersion.cmake; configure_file leaves the file alone, and
# nothing is recompiled, while nothing changed).
#   SOURCE_DIR, OUTPUT, DGC_VERSION, LLVM_VERSION: set by the caller.
set(commit unknown)
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE head OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE status ERROR_QUIET)
if(status EQUAL 0 AND head)
  set(commit "${head}")
endif()
set(DGC_COMMIT "${commit}")
configure_file("${SOURCE_DIR}/include/dgc/Version.h.in" "${OUTPUT}" @ONLY)
