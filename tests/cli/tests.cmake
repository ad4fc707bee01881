# CLI tests: `mgsweep generate` against bad input (a broken copy of the golden checkpoint,
# bad flags) must exit 2 with ONE line on stderr, "mgsweep: error: <file>: <field>: ...",
# never crash; and the golden model must generate. Included from tests/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/. Each case is one test: ctest -R cli_
set(_mgsweep_cli_cases
    config_not_json config_missing config_missing_section config_missing_field
    config_wrong_type config_negative config_heads
    safetensors_truncated_header safetensors_truncated_data safetensors_empty
    safetensors_garbage safetensors_missing
    tokenizer_not_json tokenizer_wrong_model
    patch_layer_out_of_range patch_nonsense patch_missing_file
    dtype_unknown device_unknown model_folder_missing
    temperature_zero temperature_nan temperature_inf temperature_negative
    guidance_nan guidance_inf guidance_negative top_k_negative seed_negative
    seed_not_integer seed_too_large duration_negative
    prompt_too_long_config prompt_too_long_default prompt_small_limit prompt_huge
    tokenizer_config_bad_limit tokenizer_vocab_too_large
    success)
foreach(_case IN LISTS _mgsweep_cli_cases)
  add_test(NAME cli_${_case}
           COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/run_case.sh $<TARGET_FILE:mgsweep>
                   ${CMAKE_CURRENT_SOURCE_DIR}/golden/tiny ${MGSWEEP_TEST_SCRATCH}/cli ${_case})
  set_tests_properties(cli_${_case} PROPERTIES
                       TIMEOUT 120
                       ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()
