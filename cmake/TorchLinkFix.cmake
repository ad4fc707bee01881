# The torch wheel from PyPI keeps the CUDA runtime it was built with in
# site-packages/nvidia/*/lib and finds it at run time through $ORIGIN RPATHs.
# GNU ld does not follow those when it checks libtorch_cuda's own dependencies,
# and would pick an older system NCCL/cuDNN instead (undefined ncclComm*).
# Point the link-time search at the wheel's copies. No-op for a LibTorch zip.
function(mgsweep_torch_link_fix)
  get_filename_component(_torch_lib_dir "${TORCH_LIBRARY}" DIRECTORY)
  file(GLOB _wheel_cuda_dirs LIST_DIRECTORIES true "${_torch_lib_dir}/../../nvidia/*/lib")
  set(_flags "")
  foreach(_d IN LISTS _wheel_cuda_dirs)
    string(APPEND _flags " -Wl,-rpath-link,${_d}")
  endforeach()
  string(APPEND _flags " -Wl,-rpath-link,${_torch_lib_dir}")
  set(CMAKE_EXE_LINKER_FLAGS "${CMAKE_EXE_LINKER_FLAGS}${_flags}" PARENT_SCOPE)
  set(CMAKE_SHARED_LINKER_FLAGS "${CMAKE_SHARED_LINKER_FLAGS}${_flags}" PARENT_SCOPE)
endfunction()
