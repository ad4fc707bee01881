#include "sweep/sbatch.h"

#include <cstddef>
#include <filesystem>
#include <sstream>

#include "musicgen/errors.h"

namespace mg::sweep {

namespace fs = std::filesystem;

namespace {

bool has_line_break(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

// A setting from [slurm] (or --sbatch-arg) that goes onto an #SBATCH line: one line only.
void check_one_line(const std::string& origin, const std::string& field, const std::string& value) {
  if (has_line_break(value))
    throw InputError(origin, field, "holds a line break, which would end the #SBATCH line",
                     "write it on one line");
}

void check_path(const std::string& field, const std::string& path) {
  if (path.empty()) throw InputError("mgsweep submit", field, "is empty");
  if (!fs::path(path).is_absolute())
    throw InputError("mgsweep submit", field, "'" + path + "' is not an absolute path",
                     "the batch job may start in another directory");
  if (has_line_break(path))
    throw InputError("mgsweep submit", field, "'" + path + "' holds a line break",
                     "rename it: a line break cannot be quoted in an sbatch script");
}

// A Slurm filename pattern (--output) that stands for exactly `s`: % doubled.
std::string escape_percent(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '%') out += '%';
  }
  return out;
}

// An extra_sbatch entry as the text after "#SBATCH ": "--qos=long" (also accepted with the
// "#SBATCH" prefix written out).
std::string sbatch_option(const std::string& origin, const std::string& field, std::string v) {
  check_one_line(origin, field, v);
  const auto trim = [](std::string& s) {
    const size_t a = s.find_first_not_of(" \t");
    const size_t b = s.find_last_not_of(" \t");
    s = a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  trim(v);
  if (v.rfind("#SBATCH", 0) == 0) {
    v = v.substr(7);
    trim(v);
  }
  if (v.empty() || v[0] != '-')
    throw InputError(origin, field, "'" + v + "' is not an sbatch option",
                     "write an option such as \"--qos=long\"");
  return v;
}

bool is_name_start(char c) { return c >= 'A' && c <= 'Z'; }
bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9') || c == '_'; }

// A piece of a template line: literal text, or a placeholder's name.
struct Piece {
  bool placeholder;
  std::string text;
};

std::vector<Piece> split_line(const std::string& line) {
  std::vector<Piece> out;
  std::string lit;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == '@' && i + 1 < line.size() && is_name_start(line[i + 1])) {
      size_t j = i + 1;
      while (j < line.size() && is_name_char(line[j])) ++j;
      if (j < line.size() && line[j] == '@') {
        if (!lit.empty()) out.push_back({false, lit});
        lit.clear();
        out.push_back({true, line.substr(i + 1, j - i - 1)});
        i = j + 1;
        continue;
      }
    }
    lit += line[i++];
  }
  if (!lit.empty()) out.push_back({false, lit});
  return out;
}

}  // namespace

std::string shell_quote(const std::string& s) {
  bool safe = !s.empty();
  for (char c : s)
    safe = safe && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string("_-./:=+,@%").find(c) != std::string::npos);
  if (safe) return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string sbatch_quote(const std::string& s) {
  bool safe = !s.empty();
  for (char c : s) safe = safe && std::string(" \t\"\\#'").find(c) == std::string::npos;
  if (safe) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"' || c == '#') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string sbatch_log_path(const SbatchRequest& r) {
  const std::string name = r.job_name.empty() ? "mgsweep" : r.job_name;
  return (fs::path(r.store).parent_path() / (name + "-%j.log")).string();
}

std::map<std::string, std::vector<std::string>> sbatch_values(const SbatchRequest& r) {
  const SlurmSpec& s = r.slurm;
  if (s.nodes < 1)
    throw InputError(r.origin, "slurm.nodes",
                     "must be at least 1 (is " + std::to_string(s.nodes) + ")",
                     "nodes per job, e.g. nodes = 1");
  if (s.gpus_per_node < 0)
    throw InputError(r.origin, "slurm.gpus_per_node",
                     "must be >= 0 (is " + std::to_string(s.gpus_per_node) + ")",
                     "0 = CPU-only tasks");
  if (s.cpus_per_task < 1)
    throw InputError(r.origin, "slurm.cpus_per_task",
                     "must be at least 1 (is " + std::to_string(s.cpus_per_task) + ")");
  if (s.signal_seconds < 1 || s.signal_seconds > 65535)
    throw InputError(r.origin, "slurm.signal_seconds",
                     "must be in 1..65535 (is " + std::to_string(s.signal_seconds) + ")",
                     "sbatch --signal's limit");
  check_one_line(r.origin, "slurm.partition", s.partition);
  check_one_line(r.origin, "slurm.mem", s.mem);
  check_one_line(r.origin, "slurm.time", s.time);
  check_one_line(r.origin, "slurm.account", s.account);
  check_one_line(r.origin, "name", r.job_name);
  check_path("mgsweep executable", r.mgsweep);
  check_path("job file", r.job_file);
  check_path("store", r.store);
  check_path("working directory", r.workdir);
  const std::string log = sbatch_log_path(r);
  if (log.find('\\') != std::string::npos)
    throw InputError("mgsweep submit", "store", "'" + r.store + "' holds a backslash",
                     "Slurm stops expanding %j in a log path with a backslash: use another "
                     "directory or --store");

  const auto opt = [](const std::string& v) {
    return v.empty() ? std::vector<std::string>{} : std::vector<std::string>{sbatch_quote(v)};
  };
  std::map<std::string, std::vector<std::string>> v;
  v["JOB_NAME"] = {sbatch_quote(r.job_name.empty() ? "mgsweep" : r.job_name)};
  v["NODES"] = {std::to_string(s.nodes)};
  v["NTASKS_PER_NODE"] = {std::to_string(s.gpus_per_node > 0 ? s.gpus_per_node : 1)};
  v["GPUS_PER_NODE"] = s.gpus_per_node > 0
                           ? std::vector<std::string>{std::to_string(s.gpus_per_node)}
                           : std::vector<std::string>{};
  v["CPUS_PER_TASK"] = {std::to_string(s.cpus_per_task)};
  v["MEM"] = opt(s.mem);
  v["TIME"] = opt(s.time);
  v["PARTITION"] = opt(s.partition);
  v["ACCOUNT"] = opt(s.account);
  v["SIGNAL_SECONDS"] = {std::to_string(s.signal_seconds)};
  const std::string name = r.job_name.empty() ? "mgsweep" : r.job_name;
  v["OUTPUT"] = {sbatch_quote(escape_percent(fs::path(r.store).parent_path().string()) + "/" +
                              escape_percent(name) + "-%j.log")};
  v["WORKDIR"] = {sbatch_quote(r.workdir)};
  std::vector<std::string> extra;
  for (size_t i = 0; i < s.extra_sbatch.size(); ++i)
    extra.push_back(sbatch_option(r.origin, "slurm.extra_sbatch[" + std::to_string(i) + "]",
                                  s.extra_sbatch[i]));
  for (const std::string& e : r.extra_sbatch)
    extra.push_back(sbatch_option("mgsweep submit", "--sbatch-arg", e));
  v["EXTRA_SBATCH"] = extra;
  v["MGSWEEP"] = {shell_quote(r.mgsweep)};
  v["JOB_FILE"] = {shell_quote(r.job_file)};
  v["STORE"] = {shell_quote(r.store)};
  return v;
}

std::string fill_template(const std::string& text,
                          const std::map<std::string, std::vector<std::string>>& values,
                          const std::string& origin) {
  std::ostringstream out;
  std::istringstream in(text);
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const std::vector<Piece> pieces = split_line(line);
    size_t copies = 1;
    std::string multi;  // the placeholder with several values on this line
    bool drop = false;
    for (const Piece& p : pieces) {
      if (!p.placeholder) continue;
      const auto it = values.find(p.text);
      if (it == values.end())
        throw InputError(origin, "line " + std::to_string(lineno),
                         "unknown placeholder @" + p.text + "@",
                         "use the template of this mgsweep version");
      const size_t n = it->second.size();
      if (n == 0) drop = true;
      if (n > 1) {
        if (!multi.empty() && multi != p.text)
          throw InputError(origin, "line " + std::to_string(lineno),
                           "two placeholders with several values (@" + multi + "@, @" + p.text +
                               "@) on one line",
                           "put them on separate lines");
        multi = p.text;
        copies = n;
      }
    }
    if (drop) continue;
    for (size_t k = 0; k < copies; ++k) {
      for (const Piece& p : pieces) {
        if (!p.placeholder) {
          out << p.text;
          continue;
        }
        const std::vector<std::string>& v = values.at(p.text);
        out << (v.size() > 1 ? v[k] : v[0]);
      }
      out << '\n';
    }
  }
  return out.str();
}

std::string render_sbatch(const std::string& template_text, const SbatchRequest& request) {
  return fill_template(template_text, sbatch_values(request), kSbatchTemplateName);
}

std::vector<std::string> sbatch_template_dirs(const std::string& exe_path, const char* env_dir) {
  std::vector<std::string> dirs;
  if (env_dir != nullptr && *env_dir != '\0') dirs.push_back(env_dir);
  const fs::path exe_dir = fs::path(exe_path).parent_path();
  dirs.push_back((exe_dir / ".." / ".." / "slurm").lexically_normal().string());
  dirs.push_back((exe_dir / ".." / "share" / "mgsweep" / "slurm").lexically_normal().string());
  return dirs;
}

std::string find_sbatch_template(const std::string& exe_path, const char* env_dir) {
  std::string looked;
  for (const std::string& d : sbatch_template_dirs(exe_path, env_dir)) {
    const fs::path p = fs::path(d) / kSbatchTemplateName;
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
    looked += (looked.empty() ? "" : ", ") + p.string();
  }
  throw InputError(kSbatchTemplateName, "", "not found (looked in " + looked + ")",
                   "set MGSWEEP_SLURM_DIR to the slurm/ folder of the mgsweep sources");
}

}  // namespace mg::sweep
