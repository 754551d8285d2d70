#include "graphviz.hpp"

#include <steppar/error.hpp>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
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

// `dot -T<format>` with the graph on its stdin and the picture read from its stdout. dot reads
// the whole graph before it draws, so writing all of it first and reading after cannot stall.
std::string run_dot(const std::string& dot_text, const std::string& format) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
        throw StateError(std::string("cannot create a pipe for Graphviz's dot: ") + std::strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    std::string type = "-T" + format;
    char dot[] = "dot";
    char* argv[] = {dot, type.data(), nullptr};
    pid_t pid;
    const int error = ::posix_spawnp(&pid, "dot", &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    if (error) {
        ::close(in[1]);
        ::close(out[0]);
        throw StateError(std::string("cannot start Graphviz's dot: ") + std::strerror(error));
    }
    std::signal(SIGPIPE, SIG_IGN);  // a dot that dies early must not take us with it
    for (std::string_view left = dot_text; !left.empty();) {
        const ssize_t n = ::write(in[1], left.data(), left.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // dot is gone: its exit status says why
        left.remove_prefix(static_cast<std::size_t>(n));
    }
    ::close(in[1]);
    std::string picture;
    char buffer[1 << 16];
    for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) != 0;) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        picture.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw StateError("Graphviz's dot failed to draw the graph as " + format + " (see its message above)");
    return picture;
}

}  // namespace

std::string render_with_graphviz(const std::string& dot_text, const std::string& format) {
    if (!on_path("dot"))
        throw UsageError("graph --format " + format +
                         " needs Graphviz's 'dot' on PATH (apt-get install graphviz), or use --format dot");
    return run_dot(dot_text, format);
}

}  // namespace steppar::cli
