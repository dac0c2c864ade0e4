# find_package(dgc_runtime): the imported target dgc_runtime::DgcRuntime.
# The runtime's own dependencies are private to its shared library, so there
# is nothing else to find.
include("${CMAKE_CURRENT_LIST_DIR}/dgc_runtimeTargets.cmake")
