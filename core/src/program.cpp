// Boost.Process (v2) with Boost.Asio: stdin written and stdout/stderr read at once, so a
// program that answers while it reads (or writes a lot to both) never stalls on a full pipe.
#include "steppar/program.hpp"

#include "steppar/error.hpp"
#include "steppar/signals.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/readable_pipe.hpp>
#include <boost/asio/writable_pipe.hpp>
#include <boost/asio/write.hpp>
#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include <stdexcept>

namespace bp = boost::process::v2;
namespace asio = boost::asio;

namespace steppar {
namespace {

// In the child between fork and exec: the program starts with default signal handling and an
// empty mask, whatever steppar had set for itself.
struct DefaultSignals {
    template <class Launcher>
    boost::system::error_code on_exec_setup(Launcher&, const bp::filesystem::path&, const char* const*&) {
        restore_default_signals();
        return {};
    }
};

}  // namespace

bool on_path(std::string_view program) { return !bp::environment::find_executable(std::string(program)).empty(); }

ProgramResult run_program(const std::vector<std::string>& argv, std::string_view input) {
    if (argv.empty()) throw std::invalid_argument("run_program: no program");
    const auto executable = bp::environment::find_executable(argv.front());
    if (executable.empty()) throw StateError("cannot run '" + argv.front() + "': not found on PATH");
    const SigpipeBlocked no_sigpipe;
    asio::io_context io;
    asio::writable_pipe stdin_pipe(io);
    asio::readable_pipe stdout_pipe(io), stderr_pipe(io);
    ProgramResult result;
    bp::process process(io, executable, std::vector<std::string>(argv.begin() + 1, argv.end()),
                        bp::process_stdio{stdin_pipe, stdout_pipe, stderr_pipe}, DefaultSignals{});
    // A program that exits before reading all of its input: the write fails (EPIPE), and its
    // exit code says why.
    asio::async_write(stdin_pipe, asio::buffer(input.data(), input.size()), [&](boost::system::error_code, std::size_t) {
        boost::system::error_code ignored;
        stdin_pipe.close(ignored);
    });
    asio::async_read(stdout_pipe, asio::dynamic_buffer(result.output), [](boost::system::error_code, std::size_t) {});
    asio::async_read(stderr_pipe, asio::dynamic_buffer(result.error), [](boost::system::error_code, std::size_t) {});
    io.run();
    result.exit_code = process.wait();
    return result;
}

}  // namespace steppar
