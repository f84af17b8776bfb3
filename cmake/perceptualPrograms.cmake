# The programs of examples/ and benchmarks/: name.cpp on the CPU and, with CUDA and when asked,
# name_cuda.cpp (the same program, a template on the backend, bound to the GPU; compiled by the host
# compiler and linked to the backend's instances, cmake/perceptualCuda.cmake); CLI11 flags. With MPI
# (cmake/perceptualMpi.cmake) the CPU ones can run as ranks of mpirun (app/distributed.hpp); with
# NCCL too (cmake/perceptualNccl.cmake) the CUDA ones, one GPU per rank; without it they refuse to
# run as several ranks.
find_package(CLI11 REQUIRED)

function(perceptual_program name)
  cmake_parse_arguments(arg "CUDA" "" "" ${ARGN})
  add_executable(${name} ${name}.cpp)
  target_link_libraries(${name} PRIVATE perceptual::perceptual CLI11::CLI11 perceptual_warnings)
  if(PERCEPTUAL_MPI)
    target_link_libraries(${name} PRIVATE perceptual::mpi)
  endif()
  if(arg_CUDA AND PERCEPTUAL_CUDA)
    add_executable(${name}_cuda ${name}_cuda.cpp)
    perceptual_cuda_program(${name}_cuda)
    target_link_libraries(${name}_cuda PRIVATE perceptual::perceptual CLI11::CLI11)
    if(PERCEPTUAL_NCCL)
      target_link_libraries(${name}_cuda PRIVATE perceptual::nccl)
    endif()
  endif()
endfunction()
