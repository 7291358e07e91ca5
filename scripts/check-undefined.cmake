# Fails when the built addon leaves a symbol of the s4 namespace undefined: an op twin
# declared in a spec file (S4_TWIN) whose CPU or CUDA definition has another signature, or
# none in this build. Run by CMakeLists.txt after linking; needs nm (binutils).
find_program(S4_NM nm)
if(NOT S4_NM)
  message(WARNING "s4: nm not found; undefined op twins are not checked")
  return()
endif()
execute_process(COMMAND ${S4_NM} -u -C ${ADDON} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "s4: nm failed on ${ADDON}")
endif()
string(REGEX MATCHALL "[^\n]*s4::[^\n]*" missing "${undefined}")
if(missing)
  string(REPLACE ";" "\n" missing "${missing}")
  message(FATAL_ERROR "s4: the addon leaves these functions undefined (a twin declared with S4_TWIN has no definition of that signature):\n${missing}")
endif()
