# Writes dgc's version header (run with cmake -P at every build, so that the
# commit stays current; configure_file leaves the file alone, and nothing is
# recompiled, while nothing changed).
#   SOURCE_DIR, OUTPUT, DGC_VERSION, LLVM_VERSION: set by the caller.
set(commit unknown)
execute_process(COMMAND git -C "${SOURCE_DIR}" rev-parse --short=12 HEAD
                OUTPUT_VARIABLE head OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE status ERROR_QUIET)
if(status EQUAL 0 AND head)
  set(commit "${head}")
  # Tracked files changed since the commit: say so, a build is not the commit.
  execute_process(COMMAND git -C "${SOURCE_DIR}" diff --quiet HEAD --
                  RESULT_VARIABLE dirty ERROR_QUIET)
  if(dirty EQUAL 1)
    set(commit "${commit}-modified")
  endif()
endif()
set(DGC_COMMIT "${commit}")
configure_file("${SOURCE_DIR}/include/dgc/Version.h.in" "${OUTPUT}" @ONLY)
