# Fault tests (issue 11: hangs, crashes, silently mixed stores, misleading messages), tried as
# a hostile tester would. Each tests/faults/*.cmake registers its own cases; they share
# tests/faults/fault_common.py.
file(GLOB _fault_parts CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/faults/*.cmake)
list(REMOVE_ITEM _fault_parts ${CMAKE_CURRENT_SOURCE_DIR}/faults/tests.cmake)
foreach(_fp IN LISTS _fault_parts)
  include(${_fp})
endforeach()
