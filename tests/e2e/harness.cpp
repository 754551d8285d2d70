#include "harness.hpp"

#include <array>
#include <chrono>
#include <csignal>
#include <iterator>
#include <optional>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace e2e {

namespace {
// A new empty file under TMPDIR (or /tmp), named after `prefix`; its path.
std::string make_temporary_file(const std::string& prefix) {
    std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) throw std::runtime_error("mkstemp failed in " + fs::temp_directory_path().string());
    ::close(fd);
    return pattern;
}
}  // namespace

TempDir::TempDir() {
    std::string pattern = (fs::temp_directory_path() / "steppar-e2e-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    // Make anything a test made unreadable removable again.
    shell("chmod -R u+rwx " + quote(path_.string()) + " 2>/dev/null");
    fs::remove_all(path_, ec);
}

Workspace::Workspace(const std::string& spec, const std::string& name) : pipeline(dir / name) { write_file(pipeline, spec); }

Result Workspace::run(std::vector<std::string> extra) const {
    std::vector<std::string> args = {"run", pipeline.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return host(args);
}

std::string differences_from_clean_run(const Workspace& ws, const std::vector<std::string>& extra) {
    Workspace clean(read_file(ws.pipeline));
    if (const Result copy = shell("cp -a " + quote((ws.dir / "data").string()) + " " + quote(clean.dir.path().string())); copy.exit_code != 0)
        return "cannot copy the inputs: " + copy.err;
    for (const auto& f : fs::directory_iterator(ws.dir.path()))
        if (f.path().extension() == ".so") fs::copy_file(f.path(), clean.dir / f.path().filename().string());
    std::vector<std::string> args = {"--runner", "sequential", "-q"};
    args.insert(args.end(), extra.begin(), extra.end());
    if (const Result r = judge_run(clean.pipeline, args); r.exit_code != 0) return "the clean run failed: " + r.err;
    std::string differences;
    for (const std::string folder : {"out", ".steppar/data"}) {
        if (!fs::exists(ws.dir / folder) && !fs::exists(clean.dir / folder)) continue;  // e.g. no intermediates
        const Result diff = shell("diff -r " + quote((ws.dir / folder).string()) + " " + quote((clean.dir / folder).string()));
        if (diff.exit_code != 0) differences += diff.out + diff.err;
    }
    return differences;
}

std::string quote(const std::string& arg) {
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

Result shell(const std::string& command_line) {
    const std::string err_template = make_temporary_file("steppar-e2e-stderr");
    const std::string full = "(" + command_line + ") 2>" + quote(err_template);
    FILE* pipe = ::popen(full.c_str(), "r");
    if (!pipe) throw std::runtime_error("popen failed");
    Result result;
    std::array<char, 4096> buffer{};
    std::size_t n;
    while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
    const int status = ::pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.err = read_file(err_template);
    ::unlink(err_template.c_str());
    return result;
}

Result host(const std::vector<std::string>& args) {
    std::string line = quote(host_program());
    for (const auto& a : args) line += " " + quote(a);
    return shell(line);
}

Background::Background(const std::vector<std::string>& args, const std::string& program) {
    out_ = make_temporary_file("steppar-bg-out");
    err_ = make_temporary_file("steppar-bg-err");
    const int out = ::open(out_.c_str(), O_WRONLY | O_CLOEXEC), err = ::open(err_.c_str(), O_WRONLY | O_CLOEXEC);
    std::vector<std::string> argv_strings = {program.empty() ? host_program() : program};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_strings) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ == 0) {
        ::setpgid(0, 0);  // a group of its own, as a shell's job: tests can signal it whole
        ::dup2(out, 1);
        ::dup2(err, 2);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(out);
    ::close(err);
}

Background::~Background() {
    if (!reaped_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }
    ::unlink(out_.c_str());
    ::unlink(err_.c_str());
}

void Background::signal(int sig) const { ::kill(pid_, sig); }

std::string Background::err_so_far() const { return read_file(err_); }

Result Background::wait(double seconds) {
    Result result;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int status = 0;
    while (true) {
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            reaped_ = true;
            result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    result.out = read_file(out_);
    result.err = read_file(err_);
    return result;
}

std::vector<std::string> processes_matching(const std::string& text) {
    std::vector<std::string> found;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        const std::string pid = entry.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(::getpid())) continue;
        std::string cmdline, stat_line;
        try {  // a process may end while we read it: reading its /proc files then fails
            std::ifstream in(entry.path() / "cmdline", std::ios::binary);
            cmdline.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            std::ifstream stat_file(entry.path() / "stat");
            std::getline(stat_file, stat_line);
        } catch (const std::exception&) {
            continue;
        }
        for (char& c : cmdline)
            if (c == '\0') c = ' ';
        const auto close = stat_line.rfind(')');
        const bool zombie = close != std::string::npos && stat_line.size() > close + 2 && stat_line[close + 2] == 'Z';
        if (!zombie && cmdline.find(text) != std::string::npos) found.push_back(pid + ": " + cmdline);
    }
    return found;
}

std::vector<std::string> temporaries_under(const fs::path& dir) {
    std::vector<std::string> found;
    if (!fs::exists(dir)) return found;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
        if (entry.path().filename().string().find(".steppar-tmp.") != std::string::npos) found.push_back(entry.path().string());
    return found;
}

bool wait_for_file(const fs::path& path, double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!fs::exists(path)) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

void write_file(const fs::path& path, const std::string& content) {
    if (path.has_parent_path()) fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

void set_mtime(const fs::path& file, long long seconds) {
    const timespec times[2] = {{seconds, 0}, {seconds, 0}};
    if (::utimensat(AT_FDCWD, file.c_str(), times, 0) != 0) throw std::runtime_error("cannot set the mtime of " + file.string());
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> files;
    if (!fs::exists(dir)) return files;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
        if (entry.is_regular_file())
            files[entry.path().lexically_relative(dir).generic_string()] = read_file(entry.path());
    return files;
}

void make_docs(const fs::path& dir, int count) {
    static const char* words[] = {"alpha", "Beta", "GAMMA", "delta", "epsilon", "Zeta", "eta", "theta", "i", "kappa"};
    unsigned seed = 7;
    for (int i = 0; i < count; ++i) {
        std::string text;
        const int lines = i % 13;
        for (int l = 0; l < lines; ++l) {
            const int n = (i * 3 + l) % 9;
            for (int w = 0; w < n; ++w) {
                seed = seed * 1103515245u + 12345u;
                text += words[(seed >> 16) % 10];
                text += (seed >> 8) % 5 == 0 ? "\t " : " ";
            }
            text += "\n";
        }
        if (i % 7 == 3) text += "no trailing newline";
        char name[32];
        std::snprintf(name, sizeof name, "doc-%04d.txt", i);
        write_file(i % 10 == 5 ? dir / "nested" / "deeper" / name : dir / name, text);
    }
}

namespace {
std::string from_environment(const char* variable, const char* otherwise) {
    const char* value = std::getenv(variable);
    return value && *value ? value : otherwise;
}
}  // namespace

std::string fixture(const std::string& name) { return from_environment("STEPPAR_TEST_FIXTURES", STEPPAR_FIXTURE_DIR) + "/" + name + ".so"; }

std::string host_program() { return from_environment("STEPPAR_TEST_HOST", STEPPAR_HOST); }

bool host_is_sanitized() {
#if defined(__SANITIZE_ADDRESS__)
    return true;
#else
    return !from_environment("STEPPAR_TEST_SANITIZED", "").empty();
#endif
}

fs::path source(const std::string& relative) { return fs::path(STEPPAR_SOURCE_DIR) / relative; }

namespace {

fs::path plugin_folder_of(const fs::path& host) { return host.parent_path().parent_path() / "lib/steppar/plugins"; }

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
}

// The judge's twin of `copy`, a byte-for-byte copy of a plugin in one of `tested` (the folders of
// the build under test): the file of the same name in the matching folder of `judged`.
std::optional<fs::path> twin_of(const fs::path& copy, const std::vector<fs::path>& tested, const std::vector<fs::path>& judged) {
    const auto size = fs::file_size(copy);
    std::optional<std::string> bytes;
    for (std::size_t i = 0; i < tested.size(); ++i) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(tested[i], ec)) {
            if (entry.path().extension() != ".so" || !entry.is_regular_file() || entry.file_size() != size) continue;
            if (!bytes) bytes = read_file(copy);
            if (read_file(entry.path()) == *bytes && fs::exists(judged[i] / entry.path().filename())) return judged[i] / entry.path().filename();
        }
    }
    return std::nullopt;
}

// Points the plugins of `pipeline` (and the .so copies beside it) at the judge's build; false,
// with nothing changed, when one of them has no twin there.
bool plugins_to_judge(const fs::path& pipeline) {
    const fs::path tested_host = host_program(), judge_host = STEPPAR_HOST;
    const std::vector<fs::path> tested = {fs::path(from_environment("STEPPAR_TEST_FIXTURES", STEPPAR_FIXTURE_DIR)), plugin_folder_of(tested_host)};
    const std::vector<fs::path> judged = {fs::path(STEPPAR_FIXTURE_DIR), plugin_folder_of(judge_host)};
    std::string text = read_file(pipeline);
    for (std::size_t i = 0; i < tested.size(); ++i) replace_all(text, tested[i].string() + "/", judged[i].string() + "/");
    if (text.find(tested_host.parent_path().parent_path().string() + "/") != std::string::npos) return false;  // more of the tested build
    std::vector<std::pair<fs::path, fs::path>> copies;
    for (const auto& entry : fs::directory_iterator(pipeline.parent_path())) {
        if (entry.path().extension() != ".so" || !entry.is_regular_file()) continue;
        const auto twin = twin_of(entry.path(), tested, judged);
        if (!twin) return false;
        copies.emplace_back(*twin, entry.path());
    }
    for (const auto& [twin, copy] : copies) fs::copy_file(twin, copy, fs::copy_options::overwrite_existing);
    if (text != read_file(pipeline)) write_file(pipeline, text);
    return true;
}

}  // namespace

std::string judge_host() { return STEPPAR_HOST; }

std::string judge_program(const fs::path& pipeline) {
    if (fs::path(host_program()) == fs::path(judge_host()) || !plugins_to_judge(pipeline)) return host_program();
    return judge_host();
}

Result judge_run(const fs::path& pipeline, const std::vector<std::string>& extra) {
    std::string line = quote(judge_program(pipeline)) + " run " + quote(pipeline.string());
    for (const auto& a : extra) line += " " + quote(a);
    return shell(line);
}

}  // namespace e2e
