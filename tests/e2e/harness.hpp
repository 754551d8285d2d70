// Helpers for end-to-end tests: temporary folders, files, and running the real steppar-host
// (and other programs such as wc and sha256sum) as child processes.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace e2e {

namespace fs = std::filesystem;

/// A fresh folder under /tmp, removed (with everything in it) at the end of the test.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    fs::path operator/(const std::string& relative) const { return path_ / relative; }

private:
    fs::path path_;
};

struct Result {
    int exit_code = -1;
    std::string out;  ///< stdout
    std::string err;  ///< stderr
};

/// A temporary folder holding a pipeline file, and `run` on it.
struct Workspace {
    TempDir dir;
    fs::path pipeline;
    explicit Workspace(const std::string& spec, const std::string& name = "pipeline.yml");
    /// `steppar-host run PIPELINE extra...`
    Result run(std::vector<std::string> extra = {}) const;
};

/// `diff -r` of the workspace's outputs (out/) and intermediates (.steppar/data) against a
/// clean sequential run (by the judge, judge_run) of a copy of its data/, plugin copies and
/// pipeline file: "" when byte-identical, else the differences (or why the clean run failed).
std::string differences_from_clean_run(const Workspace& ws, const std::vector<std::string>& extra = {});

/// `steppar-host run PIPELINE extra...` by the judge: the run that makes the reference outputs a
/// test compares with (a clean sequential run). The judge is the host under test, except when the
/// tests drive another build's host (STEPPAR_TEST_HOST, the sanitize run): then it is the
/// steppar-host and plugins of the build these test programs come from (release). The sanitized
/// host still runs every scenario; the reference runs, the same clean run again and again, go at
/// full speed, and the comparison holds both builds to the same bytes. The pipeline file's plugins
/// (fixture paths, the host's plugin folder, .so copies beside it) are pointed at the judge's
/// build, rewriting the file and copies in place: give it a clean copy. A plugin with no twin there
/// (built or edited by the test) keeps the host under test as the judge.
Result judge_run(const fs::path& pipeline, const std::vector<std::string>& extra = {});
/// The steppar-host judge_run runs for `pipeline` (whose plugins it points at that host's build).
std::string judge_program(const fs::path& pipeline);
/// The steppar-host built with these test programs: the judge when a pipeline's plugins allow.
std::string judge_host();

/// Quotes one argument for /bin/sh.
std::string quote(const std::string& arg);
/// Runs a shell command line; captures stdout and stderr.
Result shell(const std::string& command_line);
/// Runs steppar-host with `args` (each quoted).
Result host(const std::vector<std::string>& args);

/// A steppar-host started in the background (stdout/stderr to files, in a process group of its
/// own), for tests that signal it. With `program`, that program (found on PATH) instead.
class Background {
public:
    explicit Background(const std::vector<std::string>& args, const std::string& program = "");
    ~Background();  ///< kills it if still running
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;
    int pid() const { return pid_; }
    /// What it wrote to stderr so far.
    std::string err_so_far() const;
    void signal(int sig) const;
    /// Waits up to `seconds` for it to end; returns its result (exit_code -1 on timeout).
    Result wait(double seconds);

private:
    int pid_ = -1;
    fs::path out_, err_;
    bool reaped_ = false;
};

/// Processes whose command line contains `text` (e.g. a test's temporary folder): anything a
/// run leaves behind.
std::vector<std::string> processes_matching(const std::string& text);
/// Temporary files (AtomicFile names) anywhere under `dir`.
std::vector<std::string> temporaries_under(const fs::path& dir);
/// Waits until `path` exists (up to `seconds`).
bool wait_for_file(const fs::path& path, double seconds);

void write_file(const fs::path& path, const std::string& content);
std::string read_file(const fs::path& path);
/// Sets a file's access and modification times to `seconds` since the epoch.
void set_mtime(const fs::path& file, long long seconds);
/// Whether `text` contains `needle`.
inline bool has(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }
/// Every regular file under `dir` (recursively): relative path -> content.
std::map<std::string, std::string> snapshot(const fs::path& dir);
/// Writes `count` deterministic documents (varied sizes, words, blank lines) as DIR/doc-NNNN.txt,
/// every tenth in a subfolder.
void make_docs(const fs::path& dir, int count);

/// Path of a fixture plugin built for the tests, e.g. fixture("steppar_test_nodes"): beside this
/// test program, or in the folder STEPPAR_TEST_FIXTURES names.
std::string fixture(const std::string& name);
/// The steppar-host under test: the one built with this test program, or STEPPAR_TEST_HOST. (The
/// sanitize build drives its sanitized host and plugins with the release build's test programs:
/// the product is built twice, the tests once.)
std::string host_program();
/// Whether the host under test runs under AddressSanitizer (STEPPAR_TEST_SANITIZED set, or this
/// program built with it): everything it does is several times slower.
bool host_is_sanitized();
/// A source-tree path.
fs::path source(const std::string& relative);

}  // namespace e2e
