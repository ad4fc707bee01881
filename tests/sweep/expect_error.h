// Test helpers for bad-input cases: the message of the InputError a call throws.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "musicgen/errors.h"

namespace mgtest {

// The message of the mg::InputError `f` throws ("" when it throws none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const mg::InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace mgtest

#define EXPECT_CONTAINS(hay, needle) \
  EXPECT_NE(std::string(hay).find(needle), std::string::npos) << "in:\n" << (hay)
