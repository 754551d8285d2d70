#include "graphviz.hpp"

#include <steppar/atomic_file.hpp>
#include <steppar/error.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fs = std::filesystem;

namespace steppar::cli {
namespace {

bool on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "";
    while (!dirs.empty()) {
        const auto colon = dirs.find(':');
        const std::string dir(dirs.substr(0, colon));
        if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
        dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    }
    return false;
}

// Runs `dot -T<format> input [-o output]`; stdout is ours when there is no output file.
void run_dot(const std::string& format, const fs::path& input, const std::string& output) {
    std::vector<std::string> args = {"dot", "-T" + format, input.string()};
    if (!output.empty()) args.insert(args.end(), {"-o", output});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    if (const int error = ::posix_spawnp(&pid, "dot", nullptr, nullptr, argv.data(), environ))
        throw StateError(std::string("cannot start Graphviz's dot: ") + std::strerror(error));
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw StateError("Graphviz's dot failed to draw the graph as " + format + " (see its message above)");
}

}  // namespace

void render_with_graphviz(const std::string& dot_text, const std::string& format, const std::string& output) {
    if (!on_path("dot"))
        throw UsageError("graph --format " + format +
                         " needs Graphviz's 'dot' on PATH (apt-get install graphviz), or use --format dot");
    // dot reads the graph from a private temporary file, and writes the picture beside its
    // target first: an interrupted run never leaves half a picture.
    char input[] = "/tmp/steppar-graph-XXXXXX";
    const int fd = ::mkstemp(input);
    if (fd < 0) throw StateError(std::string("cannot create a temporary file in /tmp: ") + std::strerror(errno));
    struct Remove {
        std::string path;
        ~Remove() { ::unlink(path.c_str()); }
    } remove_input{input};
    const bool written = ::write(fd, dot_text.data(), dot_text.size()) == static_cast<ssize_t>(dot_text.size());
    ::close(fd);
    if (!written) throw StateError(std::string("cannot write ") + input);
    if (output.empty()) {
        run_dot(format, input, "");
        return;
    }
    const fs::path target = fs::absolute(output);
    const std::string partial = (target.parent_path() / ("." + target.filename().string() + ".steppar-tmp." + std::to_string(::getpid()) + ".0")).string();
    Remove remove_partial{partial};
    run_dot(format, input, partial);
    std::error_code ec;
    fs::rename(partial, target, ec);
    if (ec) throw StateError("cannot write '" + output + "': " + ec.message());
}

}  // namespace steppar::cli
