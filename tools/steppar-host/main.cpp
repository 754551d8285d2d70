// steppar-host: the launcher. Turns the command line into calls on the core and every error
// into one line on stderr and an exit code (0 ok, 1 a node failed, 2 bad usage or input).
#include "command_line.hpp"
#include "commands.hpp"

#include <steppar/error.hpp>
#include <steppar/events.hpp>
#include <steppar/sdk.hpp>

#include <boost/program_options/errors.hpp>

#include <cstring>
#include <iostream>

int main(int argc, char** argv) {
    if (argc < 2) {  // bad usage: the usage goes where errors go
        std::cerr << steppar::cli::usage();
        return 2;
    }
    if (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
        std::cout << steppar::cli::usage();
        return 0;
    }
    if (std::strcmp(argv[1], "--version") == 0) {
        std::cout << "steppar-host " << STEPPAR_VERSION_STRING << " (SDK ABI " << STEPPAR_SDK_ABI_VERSION << ")\n";
        return 0;
    }
    const std::string command = argv[1];
    try {
        return steppar::cli::dispatch(command, argc - 1, argv + 1);
    } catch (const steppar::Error& e) {
        steppar::cli::install_logging_for_early_errors(argc, argv);
        steppar::events().error(e.what(), e.exit_code());
        return e.exit_code();
    } catch (const boost::program_options::error& e) {
        steppar::cli::install_logging_for_early_errors(argc, argv);
        steppar::events().error(command + ": " + e.what() + " (see 'steppar-host " + command + " --help')", 2);
        return 2;
    } catch (const std::exception& e) {
        steppar::cli::install_logging_for_early_errors(argc, argv);
        steppar::events().error(std::string("internal error: ") + e.what(), 1);
        return 1;
    }
}
