# Checks that a page of the documentation shows an example program exactly as it is built and
# run: the ```cpp block that follows the marker line
#
#   <!-- example: examples/custom_compressor/main.cpp -->
#
# in DOC must equal the file SOURCE byte for byte. NAME is the path the marker names (by
# default SOURCE's path from the source tree's root, given as ROOT). Run as
#
#   cmake -DDOC=docs/compressors.md -DSOURCE=examples/custom_compressor/main.cpp
#         [-DROOT=<source dir>] [-DNAME=examples/custom_compressor/main.cpp]
#         [-DLANG=cpp] -P cmake/CheckDocExample.cmake
#
# and it fails, naming the first line that differs, when they do not agree. LANG is the
# block's language (```toml, ```text); with -DCOMMAND="program;arguments" (and NAME) the
# block must equal what the command prints instead of a file.

# Fails with `text` printed as it is (message(FATAL_ERROR) would re-wrap it).
function(_fail text)
  message(NOTICE "${text}")
  message(FATAL_ERROR "CheckDocExample: failed")
endfunction()

if(NOT DEFINED LANG)
  set(LANG cpp)
endif()
if(DEFINED COMMAND)
  execute_process(COMMAND ${COMMAND} OUTPUT_VARIABLE _source RESULT_VARIABLE _result)
  if(NOT _result EQUAL 0)
    _fail("CheckDocExample: '${COMMAND}' failed (${_result})")
  endif()
  string(REPLACE ";" " " SOURCE "the output of '${COMMAND}'")
endif()
foreach(_var DOC SOURCE)
  if(NOT DEFINED ${_var})
    _fail("CheckDocExample: set -D${_var}=...")
  endif()
endforeach()
if(NOT DEFINED NAME)
  if(DEFINED ROOT)
    file(RELATIVE_PATH NAME "${ROOT}" "${SOURCE}")
  else()
    set(NAME "${SOURCE}")
  endif()
endif()

file(READ "${DOC}" _doc)
if(NOT DEFINED COMMAND)
  file(READ "${SOURCE}" _source)
endif()
set(_marker "<!-- example: ${NAME} -->")
set(_fix "copy ${SOURCE} into the block (or the block into the source) so that they agree")

# The block: from the line after the "```cpp" that follows the marker to the closing "```".
string(FIND "${_doc}" "${_marker}" _at)
if(_at EQUAL -1)
  _fail("${DOC} has no line '${_marker}' followed by a ```${LANG} block showing ${SOURCE}")
endif()
string(LENGTH "${_marker}" _length)
math(EXPR _at "${_at} + ${_length}")
string(SUBSTRING "${_doc}" ${_at} -1 _after)
string(FIND "${_after}" "```${LANG}\n" _fence)
if(_fence EQUAL -1)
  _fail("${DOC}: no ```${LANG} block after '${_marker}'")
endif()
string(SUBSTRING "${_after}" 0 ${_fence} _between)
string(STRIP "${_between}" _between)
if(NOT _between STREQUAL "")
  _fail("${DOC}: '${_marker}' must be followed by the ```${LANG} block, found text first")
endif()
string(LENGTH "```${LANG}\n" _fence_length)
math(EXPR _begin "${_fence} + ${_fence_length}")
string(SUBSTRING "${_after}" ${_begin} -1 _after)
string(FIND "${_after}" "\n```" _end)
if(_end EQUAL -1)
  _fail("${DOC}: the ```${LANG} block after '${_marker}' is not closed")
endif()
math(EXPR _end "${_end} + 1")  # the block's last line keeps its newline, as the file's does
string(SUBSTRING "${_after}" 0 ${_end} _block)

if(_block STREQUAL _source)
  return()
endif()

# Where they part: the longest common prefix, by bisection, then its line.
string(LENGTH "${_block}" _block_length)
string(LENGTH "${_source}" _source_length)
set(_low 0)  # a common prefix length
if(_block_length LESS _source_length)
  set(_high ${_block_length})
else()
  set(_high ${_source_length})
endif()
string(SUBSTRING "${_block}" 0 ${_high} _a)
string(SUBSTRING "${_source}" 0 ${_high} _b)
if(_a STREQUAL _b)
  set(_low ${_high})
endif()
while(_low LESS _high)
  math(EXPR _mid "(${_low} + ${_high} + 1) / 2")
  string(SUBSTRING "${_block}" 0 ${_mid} _a)
  string(SUBSTRING "${_source}" 0 ${_mid} _b)
  if(_a STREQUAL _b)
    set(_low ${_mid})
  else()
    math(EXPR _high "${_mid} - 1")
  endif()
endwhile()
string(SUBSTRING "${_source}" 0 ${_low} _common)
string(REGEX MATCHALL "\n" _newlines "${_common}")
list(LENGTH _newlines _line)
math(EXPR _line "${_line} + 1")
string(FIND "${_common}" "\n" _line_start REVERSE)
math(EXPR _line_start "${_line_start} + 1")

function(_line_at text start out)
  string(SUBSTRING "${text}" ${start} -1 _rest)
  string(FIND "${_rest}" "\n" _stop)
  if(_stop EQUAL -1)
    set(${out} "${_rest}" PARENT_SCOPE)
  else()
    string(SUBSTRING "${_rest}" 0 ${_stop} _rest)
    set(${out} "${_rest}" PARENT_SCOPE)
  endif()
endfunction()
if(_line_start LESS _block_length)
  _line_at("${_block}" ${_line_start} _doc_line)
else()
  set(_doc_line "(end of the block)")
endif()
if(_line_start LESS _source_length)
  _line_at("${_source}" ${_line_start} _source_line)
else()
  set(_source_line "(end of the file)")
endif()
string(CONCAT _message
  "The example in ${DOC} differs from ${SOURCE}, first at line ${_line} of the program:\n"
  "  doc:    ${_doc_line}\n"
  "  source: ${_source_line}\n"
  "${_fix}.")
_fail("${_message}")
