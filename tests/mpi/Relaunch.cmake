# The dead-rank test (tests/mpi/relaunch.cpp): a job whose worker rank is killed by SIGKILL
# must end (Open MPI's launcher ends it), and a relaunch with another number of ranks must
# resume from the last periodic checkpoint and finish as the uninterrupted run. Run as
#
#   cmake -DMPIEXEC=... -DNUMPROC_FLAG=-n "-DFLAGS=--oversubscribe" -DPROGRAM=... -DDIR=...
#         -P tests/mpi/Relaunch.cmake

file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")
separate_arguments(FLAGS)

execute_process(
  COMMAND "${MPIEXEC}" ${NUMPROC_FLAG} 4 ${FLAGS} "${PROGRAM}" kill "${DIR}"
  RESULT_VARIABLE killed OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
if(killed STREQUAL "0" OR killed MATCHES "timeout")
  message(FATAL_ERROR "the job with a killed rank did not end as failed (${killed}):\n${out}${err}")
endif()
message(STATUS "the job with a killed rank ended: ${killed}")
if(NOT EXISTS "${DIR}/run.ckpt")
  message(FATAL_ERROR "no periodic checkpoint was written before the rank died:\n${out}${err}")
endif()

execute_process(
  COMMAND "${MPIEXEC}" ${NUMPROC_FLAG} 3 ${FLAGS} "${PROGRAM}" resume "${DIR}"
  RESULT_VARIABLE resumed OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
message(STATUS "relaunched:\n${out}")
if(NOT resumed STREQUAL "0")
  message(FATAL_ERROR "the relaunched job failed (${resumed}):\n${out}${err}")
endif()
