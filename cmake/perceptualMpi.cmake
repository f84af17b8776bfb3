# MPI for data parallelism (include/perceptual/dist/mpi.hpp: training and batch stylisation over
# several processes and machines). PERCEPTUAL_MPI is AUTO (the default: on when MPI's development
# files are found, Debian's libopenmpi-dev), ON (required: a configuration error without them) or
# OFF. After this file PERCEPTUAL_MPI is ON or OFF; when ON, perceptual::mpi links MPI and defines
# PERCEPTUAL_WITH_MPI for the programs that offer it. Without MPI everything else builds and runs.
set(PERCEPTUAL_MPI AUTO CACHE STRING "Build data parallelism over MPI: AUTO (when MPI is found), ON (required) or OFF")
set_property(CACHE PERCEPTUAL_MPI PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${PERCEPTUAL_MPI}" perceptual_mpi_request)
if(perceptual_mpi_request STREQUAL "OFF" OR (NOT perceptual_mpi_request STREQUAL "AUTO" AND NOT PERCEPTUAL_MPI))
  set(PERCEPTUAL_MPI OFF)
else()
  find_package(MPI COMPONENTS CXX QUIET)
  if(MPI_CXX_FOUND)
    set(PERCEPTUAL_MPI ON)
    message(STATUS "perceptual: MPI on (${MPI_CXX_LIBRARIES}; tests run by ${MPIEXEC_EXECUTABLE})")
    add_library(perceptual_mpi INTERFACE)
    add_library(perceptual::mpi ALIAS perceptual_mpi)
    target_link_libraries(perceptual_mpi INTERFACE MPI::MPI_CXX)
    target_compile_definitions(perceptual_mpi INTERFACE PERCEPTUAL_WITH_MPI)
  elseif(perceptual_mpi_request STREQUAL "AUTO")
    message(STATUS "perceptual: MPI off (no MPI development files; on Debian: libopenmpi-dev)")
    set(PERCEPTUAL_MPI OFF)
  else()
    message(FATAL_ERROR "perceptual: PERCEPTUAL_MPI=ON but MPI was not found (on Debian: libopenmpi-dev)")
  endif()
endif()
