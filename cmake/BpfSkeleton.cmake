# Compiles BPF C into an object and a libbpf skeleton header; the bytecode is embedded in the
# skeleton, so the binaries that include it are self-contained.
set(NETGUARD_MIN_CLANG 14)

find_program(NETGUARD_BPF_CLANG NAMES clang clang-16 clang-15 clang-14)
if(NOT NETGUARD_BPF_CLANG)
  message(FATAL_ERROR "clang not found (needed to compile bpf/*.bpf.c): apt install clang llvm")
endif()
execute_process(COMMAND ${NETGUARD_BPF_CLANG} --version OUTPUT_VARIABLE _clang_version_out)
string(REGEX MATCH "clang version ([0-9]+)" _ "${_clang_version_out}")
if(NOT CMAKE_MATCH_1 OR CMAKE_MATCH_1 LESS NETGUARD_MIN_CLANG)
  message(FATAL_ERROR "${NETGUARD_BPF_CLANG} is version '${CMAKE_MATCH_1}'; BPF needs clang >= ${NETGUARD_MIN_CLANG}")
endif()
message(STATUS "BPF compiler: ${NETGUARD_BPF_CLANG} (clang ${CMAKE_MATCH_1})")

find_program(NETGUARD_BPFTOOL NAMES bpftool PATHS /usr/sbin /usr/local/sbin /sbin)
if(NOT NETGUARD_BPFTOOL)
  message(FATAL_ERROR "bpftool not found (needed for skeletons): apt install bpftool")
endif()
execute_process(COMMAND ${NETGUARD_BPFTOOL} version OUTPUT_VARIABLE _bpftool_out
                RESULT_VARIABLE _bpftool_rc)
if(NOT _bpftool_rc EQUAL 0)
  message(FATAL_ERROR "${NETGUARD_BPFTOOL} does not run: ${_bpftool_out}")
endif()
string(REGEX MATCH "v[0-9.]+" _bpftool_version "${_bpftool_out}")
message(STATUS "bpftool: ${NETGUARD_BPFTOOL} ${_bpftool_version}")

if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(NETGUARD_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(NETGUARD_BPF_ARCH arm64)
else()
  set(NETGUARD_BPF_ARCH ${CMAKE_SYSTEM_PROCESSOR})
endif()

# netguard_bpf_skeleton(<name> SOURCE <file.bpf.c> [HEADERS <h>...] [INCLUDES <dir>...])
# Builds <name>.bpf.o and <name>.skel.h in the current binary dir and an INTERFACE target
# <name>_skel that carries the include path and libbpf. INCLUDES: more -I directories for clang
# (the current source directory is always one).
function(netguard_bpf_skeleton name)
  cmake_parse_arguments(ARG "" "SOURCE" "HEADERS;INCLUDES" ${ARGN})
  if(NOT ARG_SOURCE)
    message(FATAL_ERROR "netguard_bpf_skeleton(${name}): SOURCE is required")
  endif()
  get_filename_component(src ${ARG_SOURCE} ABSOLUTE)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${name}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${name}.skel.h)
  set(include_flags)
  foreach(dir ${ARG_INCLUDES})
    list(APPEND include_flags -I${dir})
  endforeach()
  foreach(dir ${LIBBPF_INCLUDE_DIRS})
    list(APPEND include_flags -isystem ${dir})
  endforeach()

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${NETGUARD_BPF_CLANG} -target bpf -O2 -g -Wall -Wextra -Werror
            -D__TARGET_ARCH_${NETGUARD_BPF_ARCH} -I${CMAKE_CURRENT_SOURCE_DIR} ${include_flags}
            -idirafter /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} -c ${src} -o ${obj}
    DEPENDS ${src} ${ARG_HEADERS}
    COMMENT "BPF ${name}: compiling ${ARG_SOURCE}"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "${NETGUARD_BPFTOOL} gen skeleton ${obj} name ${name} > ${skel}.tmp && mv ${skel}.tmp ${skel}"
    DEPENDS ${obj}
    COMMENT "BPF ${name}: generating skeleton"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skel})
  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${CMAKE_CURRENT_BINARY_DIR}
                                                    ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
  set_property(TARGET ${name}_skel PROPERTY NETGUARD_BPF_OBJECT ${obj})
endfunction()
