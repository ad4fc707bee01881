// `mgsweep submit`'s batch script (src/sweep/sbatch.h): the shipped template rendered with a
// GPU and a CPU profile, the signal and requeue logic, extra lines, quoting, template rules,
// bad settings and where the template is looked for.
#include "sweep/sbatch.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "expect_error.h"
#include "musicgen/errors.h"
#include "sweep/spec.h"

namespace mg::sweep {
namespace {

namespace fs = std::filesystem;

const std::string kRoot = std::string(MGSWEEP_TEST_DATA) + "/..";

std::string shipped_template() {
  std::ifstream in(kRoot + "/slurm/mgsweep.sbatch.in");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// The #SBATCH lines of a script, in order.
std::vector<std::string> sbatch_lines(const std::string& script) {
  std::vector<std::string> out;
  for (const std::string& l : lines_of(script))
    if (l.rfind("#SBATCH", 0) == 0) out.push_back(l);
  return out;
}

bool has_line(const std::string& script, const std::string& line) {
  for (const std::string& l : lines_of(script))
    if (l == line) return true;
  return false;
}

#define EXPECT_LINE(script, line) EXPECT_TRUE(has_line(script, line)) << "no line: " << (line)

using mgtest::error_of;

SbatchRequest gpu_request() {
  SbatchRequest r;
  r.job_name = "paper";
  r.mgsweep = "/opt/mgsweep/bin/mgsweep";
  r.job_file = "/home/me/jobs/paper.toml";
  r.store = "/scratch/me/results/paper.h5";
  r.workdir = "/home/me";
  r.origin = "/home/me/configs/cluster_snellius.toml";
  r.slurm = load_slurm_profile(kRoot + "/configs/cluster_snellius.toml");
  return r;
}

SbatchRequest cpu_request() {
  SbatchRequest r = gpu_request();
  r.slurm = SlurmSpec{};
  r.slurm.present = true;
  r.slurm.partition = "debug";
  r.slurm.nodes = 1;
  r.slurm.gpus_per_node = 0;
  r.slurm.cpus_per_task = 2;
  r.slurm.time = "10:00";
  r.slurm.signal_seconds = 30;
  return r;
}

TEST(Sbatch, GpuProfile) {
  const std::string s = render_sbatch(shipped_template(), gpu_request());
  EXPECT_EQ(s.rfind("#!/bin/bash\n", 0), 0u);
  const std::vector<std::string> expect = {
      "#SBATCH --job-name=paper",
      "#SBATCH --nodes=1",
      "#SBATCH --ntasks-per-node=4",
      "#SBATCH --gres=gpu:4",
      "#SBATCH --cpus-per-task=18",
      "#SBATCH --time=1-00:00:00",
      "#SBATCH --partition=gpu_a100",
      "#SBATCH --signal=B:USR1@300",
      "#SBATCH --requeue",
      "#SBATCH --open-mode=append",
      "#SBATCH --output=/scratch/me/results/paper-%j.log",
      "#SBATCH --chdir=/home/me",
  };
  EXPECT_EQ(sbatch_lines(s), expect);  // no --mem, no --account: empty in the profile
  EXPECT_CONTAINS(s,
                  "srun --kill-on-bad-exit=1 --mpi=\"${MGSWEEP_SRUN_MPI:-pmix}\" "
                  "--cpus-per-task=18 \\\n");
  EXPECT_CONTAINS(s,
                  "\n  /opt/mgsweep/bin/mgsweep run /home/me/jobs/paper.toml --store "
                  "/scratch/me/results/paper.h5 --threads 18 &\n");
  EXPECT_FALSE(std::regex_search(s, std::regex("@[A-Z][A-Z0-9_]*@")));  // all filled
}

TEST(Sbatch, CpuProfileHasNoGres) {
  SbatchRequest r = cpu_request();
  r.slurm.mem = "4G";
  r.slurm.account = "proj42";
  const std::string s = render_sbatch(shipped_template(), r);
  EXPECT_LINE(s, "#SBATCH --ntasks-per-node=1");
  EXPECT_LINE(s, "#SBATCH --cpus-per-task=2");
  EXPECT_LINE(s, "#SBATCH --mem=4G");
  EXPECT_LINE(s, "#SBATCH --account=proj42");
  EXPECT_LINE(s, "#SBATCH --time=10:00");
  for (const std::string& l : sbatch_lines(s)) EXPECT_EQ(l.find("gres"), std::string::npos) << l;
}

TEST(Sbatch, MultiNode) {
  SbatchRequest r = gpu_request();
  r.slurm.nodes = 3;
  r.slurm.gpus_per_node = 8;
  const std::string s = render_sbatch(shipped_template(), r);
  EXPECT_LINE(s, "#SBATCH --nodes=3");
  EXPECT_LINE(s, "#SBATCH --ntasks-per-node=8");
  EXPECT_LINE(s, "#SBATCH --gres=gpu:8");
}

TEST(Sbatch, SignalGoesToTheBatchShellAndIsForwarded) {
  SbatchRequest r = cpu_request();
  r.slurm.signal_seconds = 120;
  const std::string s = render_sbatch(shipped_template(), r);
  EXPECT_LINE(s, "#SBATCH --signal=B:USR1@120");
  // srun in the background, the trap forwards USR1 and TERM to it, then a wait loop.
  EXPECT_CONTAINS(s, "--threads 2 &\nsrun_pid=$!\n");
  EXPECT_LINE(s, "trap 'forward USR1' USR1");
  // Only rank 0 takes the signals srun forwards to every task; the others ignore them.
  EXPECT_CONTAINS(s,
                  "/bin/bash -c '[ \"${SLURM_PROCID:-0}\" = 0 ] || trap \"\" USR1 TERM; "
                  "exec \"$@\"' mgsweep-task \\\n");
  EXPECT_LINE(s, "trap 'forward TERM' TERM");
  EXPECT_CONTAINS(s, "kill -s \"$1\" \"$srun_pid\"");
  EXPECT_CONTAINS(s, "wait \"$srun_pid\"\nstatus=$?\n");
  // The traps come before the wait, and srun before the traps.
  EXPECT_LT(s.find("srun --kill-on-bad-exit=1"), s.find("trap 'forward USR1' USR1"));
  EXPECT_LT(s.find("trap 'forward TERM' TERM"), s.find("while kill -0"));
}

TEST(Sbatch, RequeueOnStatus75) {
  const std::string s = render_sbatch(shipped_template(), cpu_request());
  EXPECT_LINE(s, "#SBATCH --requeue");
  EXPECT_LINE(s, "#SBATCH --open-mode=append");
  const size_t c75 = s.find("\n  75)\n");
  ASSERT_NE(c75, std::string::npos) << s;
  const size_t requeue = s.find("scontrol requeue \"${SLURM_JOB_ID:-}\"");
  ASSERT_NE(requeue, std::string::npos);
  EXPECT_GT(requeue, c75);
  // ... but not after TERM (scancel must stay final): the check comes first and exits.
  const size_t term = s.find("if [ \"$got_term\" = 1 ]; then", c75);
  ASSERT_NE(term, std::string::npos);
  EXPECT_LT(term, requeue);
  EXPECT_LT(s.find("exit 75", term), requeue);
  EXPECT_CONTAINS(s, "[ \"$1\" = TERM ] && got_term=1");
  EXPECT_LT(requeue, s.find("\n  *)\n"));
  EXPECT_CONTAINS(s, "\n  0)\n");
  // Status 0 is checked against the store before the job is called complete.
  EXPECT_CONTAINS(s, "report=$(/opt/mgsweep/bin/mgsweep status /scratch/me/results/paper.h5 2>&1)");
  EXPECT_LT(s.find("\n  0)\n"), s.find("report=$("));
  EXPECT_LT(s.find("report=$("), s.find("\n  75)\n"));
  EXPECT_CONTAINS(s, "exit \"$status\"");
  // The only command that requeues (comments aside) is the one under 75).
  int commands = 0;
  for (const std::string& l : lines_of(s))
    if (l.find("scontrol requeue") != std::string::npos &&
        l.substr(l.find_first_not_of(' '), 1) != "#")
      ++commands;
  EXPECT_EQ(commands, 1);
}

TEST(Sbatch, ExtraLinesComeLast) {
  SbatchRequest r = cpu_request();
  r.slurm.extra_sbatch = {"--qos=long", "#SBATCH --constraint=\"a100|h100\"", "  --exclusive "};
  r.extra_sbatch = {"--time=5", "--mail-type=END"};
  const std::vector<std::string> l = sbatch_lines(render_sbatch(shipped_template(), r));
  ASSERT_GE(l.size(), 5u);
  const std::vector<std::string> tail(l.end() - 5, l.end());
  const std::vector<std::string> expect = {
      "#SBATCH --qos=long", "#SBATCH --constraint=\"a100|h100\"", "#SBATCH --exclusive",
      "#SBATCH --time=5", "#SBATCH --mail-type=END"};
  EXPECT_EQ(tail, expect);
}

TEST(Sbatch, NoExtraLinesNoEmptySbatchLine) {
  for (const std::string& l : sbatch_lines(render_sbatch(shipped_template(), cpu_request())))
    EXPECT_NE(l, "#SBATCH ");
}

TEST(Sbatch, PathsWithSpacesAreQuoted) {
  SbatchRequest r = cpu_request();
  r.mgsweep = "/opt/my tools/mgsweep";
  r.job_file = "/home/me/my jobs/it's.toml";
  r.store = "/scratch/me/my results #1/100%.h5";
  r.workdir = "/home/me/work dir";
  const std::string s = render_sbatch(shipped_template(), r);
  EXPECT_CONTAINS(s,
                  "'/opt/my tools/mgsweep' run '/home/me/my jobs/it'\\''s.toml' --store "
                  "'/scratch/me/my results #1/100%.h5' --threads 2 &");
  // #SBATCH values: double quotes, # escaped, % doubled in the filename pattern.
  EXPECT_LINE(s, "#SBATCH --output=\"/scratch/me/my results \\#1/paper-%j.log\"");
  EXPECT_LINE(s, "#SBATCH --chdir=\"/home/me/work dir\"");
  r.store = "/scratch/50%/x.h5";
  EXPECT_LINE(render_sbatch(shipped_template(), r), "#SBATCH --output=/scratch/50%%/paper-%j.log");
}

TEST(Sbatch, Quoting) {
  EXPECT_EQ(shell_quote("/a/b-c_d.h5"), "/a/b-c_d.h5");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote("$HOME"), "'$HOME'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(sbatch_quote("gpu_a100"), "gpu_a100");
  EXPECT_EQ(sbatch_quote("a b"), "\"a b\"");
  EXPECT_EQ(sbatch_quote("a\"b#c\\d"), "\"a\\\"b\\#c\\\\d\"");
}

TEST(Sbatch, LogPath) {
  EXPECT_EQ(sbatch_log_path(gpu_request()), "/scratch/me/results/paper-%j.log");
}

TEST(Sbatch, BadSettings) {
  SbatchRequest r = cpu_request();
  r.slurm.nodes = 0;
  std::string e = error_of([&] { render_sbatch(shipped_template(), r); });
  EXPECT_CONTAINS(e, "cluster_snellius.toml: slurm.nodes: must be at least 1");
  r = cpu_request();
  r.slurm.gpus_per_node = -1;
  EXPECT_CONTAINS(error_of([&] { render_sbatch(shipped_template(), r); }), "slurm.gpus_per_node");
  r = cpu_request();
  r.slurm.signal_seconds = 0;
  EXPECT_CONTAINS(error_of([&] { render_sbatch(shipped_template(), r); }), "slurm.signal_seconds");
  r = cpu_request();
  r.slurm.partition = "a\nb";
  EXPECT_CONTAINS(error_of([&] { render_sbatch(shipped_template(), r); }),
                  "slurm.partition: holds a line break");
  r = cpu_request();
  r.slurm.extra_sbatch = {"qos=long"};
  EXPECT_CONTAINS(error_of([&] { render_sbatch(shipped_template(), r); }),
                  "slurm.extra_sbatch[0]: 'qos=long' is not an sbatch option");
  r = cpu_request();
  r.extra_sbatch = {""};
  EXPECT_CONTAINS(error_of([&] { render_sbatch(shipped_template(), r); }), "--sbatch-arg");
  r = cpu_request();
  r.store = "results/x.h5";
  EXPECT_CONTAINS(error_of([&] { render_sbatch(shipped_template(), r); }),
                  "store: 'results/x.h5' is not an absolute path");
  r = cpu_request();
  r.store = "/a\\b/x.h5";
  EXPECT_CONTAINS(error_of([&] { render_sbatch(shipped_template(), r); }), "backslash");
}

TEST(Sbatch, TemplateRules) {
  const std::map<std::string, std::vector<std::string>> v = {
      {"ONE", {"1"}}, {"NONE", {}}, {"MANY", {"a", "b", "c"}}};
  EXPECT_EQ(fill_template("x=@ONE@ y=@ONE@\n", v), "x=1 y=1\n");
  EXPECT_EQ(fill_template("keep\ndrop @NONE@ @ONE@\nkeep\n", v), "keep\nkeep\n");
  EXPECT_EQ(fill_template("- @MANY@ @ONE@\n", v), "- a 1\n- b 1\n- c 1\n");
  EXPECT_EQ(fill_template("USR1@@ONE@ a@b.c @lower@ @ @\n", v), "USR1@1 a@b.c @lower@ @ @\n");
  EXPECT_EQ(fill_template("no newline at the end @ONE@", v), "no newline at the end 1\n");
  EXPECT_CONTAINS(error_of([&] { fill_template("a\n@NOPE@\n", v, "t.in"); }),
                  "t.in: line 2: unknown placeholder @NOPE@");
  EXPECT_EQ(fill_template("@MANY@ @MANY@\n", v), "a a\nb b\nc c\n");
  EXPECT_EQ(fill_template("@MANY@@MANY@\n", v), "aa\nbb\ncc\n");
  const std::map<std::string, std::vector<std::string>> two = {{"A", {"1", "2"}},
                                                               {"B", {"3", "4"}}};
  EXPECT_CONTAINS(error_of([&] { fill_template("@A@ @B@\n", two); }), "two placeholders");
}

TEST(Sbatch, ShippedTemplateIsDocumented) {
  // Every #SBATCH line of the template has a comment above it (or is in a commented block).
  const std::vector<std::string> l = lines_of(shipped_template());
  for (size_t i = 1; i < l.size(); ++i)
    if (l[i].rfind("#SBATCH", 0) == 0)
      EXPECT_EQ(l[i - 1].rfind("#", 0), 0u) << "undocumented: " << l[i];
}

TEST(Sbatch, TemplateDirs) {
  const auto d = sbatch_template_dirs("/w/main/build/src/mgsweep", nullptr);
  const std::vector<std::string> expect = {"/w/main/slurm", "/w/main/build/share/mgsweep/slurm"};
  EXPECT_EQ(d, expect);
  const auto e = sbatch_template_dirs("/usr/bin/mgsweep", "/etc/mgsweep");
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[0], "/etc/mgsweep");
  EXPECT_EQ(e[2], "/usr/share/mgsweep/slurm");
  EXPECT_EQ(sbatch_template_dirs("/usr/bin/mgsweep", "").size(), 2u);
  // The build tree finds the source tree's template.
  EXPECT_TRUE(fs::exists(find_sbatch_template(MGSWEEP_BINARY, nullptr)));
  const std::string err =
      error_of([] { find_sbatch_template("/nonexistent/a/bin/mgsweep", nullptr); });
  EXPECT_CONTAINS(err,
                  "mgsweep.sbatch.in: not found (looked in /nonexistent/slurm/mgsweep.sbatch.in, "
                  "/nonexistent/a/share/mgsweep/slurm/mgsweep.sbatch.in)");
  EXPECT_CONTAINS(err, "MGSWEEP_SLURM_DIR");
}

}  // namespace
}  // namespace mg::sweep
