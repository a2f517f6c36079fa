# add_lexicon_library(<target> <dir-or-file>... [NAMESPACE ns] [UNITY_BATCH n])
#
# Compiles lexicon documents to C++ at build time with lexgen and builds them into a static
# library <target>. The generated code is rebuilt whenever lexgen or any lexicon changes;
# lexgen leaves unchanged files untouched, so only what changed recompiles.
function(add_lexicon_library target)
  cmake_parse_arguments(LEX "" "NAMESPACE;UNITY_BATCH" "" ${ARGN})
  if(NOT LEX_NAMESPACE)
    set(LEX_NAMESPACE lexicons)
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${target}_generated)
  set(inputs ${LEX_UNPARSED_ARGUMENTS})

  set(json_files)
  foreach(input ${inputs})
    if(IS_DIRECTORY ${input})
      file(GLOB_RECURSE found CONFIGURE_DEPENDS ${input}/*.json)
      list(SORT found)
      list(APPEND json_files ${found})
    else()
      list(APPEND json_files ${input})
    endif()
  endforeach()
  # A changed lexicon id changes the file list: re-run configure when any lexicon changes.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${json_files})

  set(headers)
  set(sources)
  foreach(json ${json_files})
    file(READ ${json} content)
    string(JSON id ERROR_VARIABLE json_error GET "${content}" id)
    if(json_error)
      message(FATAL_ERROR "${json}: no lexicon id (${json_error})")
    endif()
    string(REPLACE "." "/" stem ${id})
    list(APPEND headers ${out_dir}/${stem}.h)
    list(APPEND sources ${out_dir}/${stem}.cc)
  endforeach()

  set(stamp ${out_dir}/.generated)
  add_custom_command(
    OUTPUT ${stamp}
    BYPRODUCTS ${headers} ${sources}
    COMMAND lexgen generate --out ${out_dir} --namespace ${LEX_NAMESPACE} ${inputs}
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS lexgen ${json_files}
    COMMENT "lexgen: compiling lexicons for ${target}"
    VERBATIM)
  add_custom_target(${target}_generate DEPENDS ${stamp})

  add_library(${target} STATIC ${sources})
  add_dependencies(${target} ${target}_generate)
  target_include_directories(${target} PUBLIC ${out_dir})
  target_link_libraries(${target} PUBLIC atipay_lex)
  if(LEX_UNITY_BATCH)
    set_target_properties(${target} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE ${LEX_UNITY_BATCH})
  endif()
endfunction()
