// Errors that reach the user. Every error about bad input names the file, the
// field and, where there is one, the fix, so a researcher on a cluster can act
// on the one line that lands in the Slurm log.
#pragma once

#include <stdexcept>
#include <string>

namespace mg {

// Text from an untrusted file made safe for a one-line message: control characters
// shown as \xNN, cut to `max` bytes (with "..."). Names and values from a lying file
// may hold newlines; a message must stay one line in a Slurm log.
inline std::string printable(const std::string& in, size_t max = 200) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < in.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (in.size() > max) out += "...";
  return out;
}

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
    return printable(s, std::string::npos);
  }
  std::string file_;
  std::string field_;
};

}  // namespace mg
