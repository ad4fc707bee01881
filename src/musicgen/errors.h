// Errors that reach the user. Every error about bad input names the file, the
// field and, where there is one, the fix, so a researcher on a cluster can act
// on the one line that lands in the Slurm log.
#pragma once

#include <stdexcept>
#include <string>

namespace mg {

// Bad input: a malformed checkpoint, config, tokenizer, TOML, store or flag.
// what() is the full one-line message: "<file>: <field>: <problem> (<fix>)".
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& field, const std::string& problem,
             const std::string& fix = "")
      : std::runtime_error(format(file, field, problem, fix)), file_(file), field_(field) {}

  const std::string& file() const { return file_; }
  const std::string& field() const { return field_; }

 private:
  static std::string format(const std::string& file, const std::string& field,
                            const std::string& problem, const std::string& fix) {
    std::string s = file.empty() ? std::string("<input>") : file;
    if (!field.empty()) s += ": " + field;
    s += ": " + problem;
    if (!fix.empty()) s += " (" + fix + ")";
    return one_line(s);
  }
  // Names and values from untrusted files may hold newlines or escapes; the message
  // must stay one line in a Slurm log, so control characters are shown as \xNN.
  static std::string one_line(const std::string& in) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned char c : in) {
      if (c < 0x20 || c == 0x7f) {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
      } else {
        out += static_cast<char>(c);
      }
    }
    return out;
  }
  std::string file_;
  std::string field_;
};

}  // namespace mg
