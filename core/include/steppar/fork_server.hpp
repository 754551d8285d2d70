// The fork server: how the local runners start a slice in about a millisecond.
//
// Starting `steppar-host run-slice` with exec costs ~7 ms here, almost all of it the dynamic
// loader (libstdc++, libcrypto) and re-reading the pipeline; and plain fork() from a host that
// holds a listing of a million partitions copies page tables (~40 ms from a 2 GB parent). So
// right after opening the project, while the host is still small, it forks one helper: the
// fork server. The server keeps the parsed pipeline and the loaded plugins, and forks one child
// per step on request. Each child is still its own process (own process group, dies with the
// server, which dies with the host), runs the very code `run-slice`/`run-node` run, and exits.
//
//   host --start(step)--> server --fork--> child: run_slice(...) ; _exit(code)
//   host <--started(pid, pipe)-- server     (the child's stdout/stderr, see events.hpp)
//   host <--ended(pid, wait status)-- server (SIGCHLD)
//
// Plugins that cannot live through fork() (threads started at load time) can use
// `--launch exec` instead, which execs a fresh steppar-host per step.
#pragma once

#include "steppar/expand.hpp"
#include "steppar/project.hpp"

#include <memory>
#include <sys/types.h>
#include <vector>

namespace steppar {

class ForkServer {
public:
    struct Exit {
        std::size_t step;
        int wait_status;  ///< as waitpid(2) reports it
    };

    /// Forks the server.
    static std::unique_ptr<ForkServer> start(Project& project, const ExpandedGraph& graph);
    /// Closes the channel (the server exits, and its children with it) and reaps the server.
    ~ForkServer();
    ForkServer(const ForkServer&) = delete;
    ForkServer& operator=(const ForkServer&) = delete;

    struct Launched {
        pid_t pid;   ///< also its process group
        int output;  ///< read end of the child's stdout/stderr pipe; the caller owns it
    };
    /// Starts attempt `attempt` (from 1) of step `step` (a slice or a plain node) in a new child.
    /// Throws StateError when the server cannot fork.
    Launched launch(std::size_t step, int attempt = 1);
    /// Readable when the server has something to say: wait on it, then call take_exits().
    int channel() const noexcept { return channel_; }
    /// Steps that ended since the last call (never blocks).
    std::vector<Exit> take_exits();

private:
    ForkServer(pid_t server, int channel) : server_(server), channel_(channel) {}
    bool receive(bool block);

    pid_t server_;
    int channel_;
    std::vector<Exit> exits_;
    struct Started {
        std::size_t step;
        pid_t pid;
        int output;
    };
    std::vector<Started> started_;
};

}  // namespace steppar
