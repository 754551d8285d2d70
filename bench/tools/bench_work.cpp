// bench-work: one benchmark node over files, in one process. It is both contenders that are
// not steppar:
//   - the per-file program xargs -n 1, GNU parallel and snakemake start once per file;
//   - the ideal in-process loop (the lower bound of the work itself), with --timing; with
//     --atomic it publishes each output by rename, as steppar does.
// Without --out it writes no per-file outputs and prints one result line per file instead
// (batched xargs -n 500).
//
//   bench-work NODE [--rounds R] [--out DIR --suffix S [--atomic]] [--timing] FILE... | --list LISTFILE
#include "work.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::string output_name(const std::string& input, const std::string& suffix) {
    const auto slash = input.rfind('/');
    std::string name = slash == std::string::npos ? input : input.substr(slash + 1);
    const auto dot = name.rfind('.');
    if (dot != std::string::npos && dot > 0) name.resize(dot);
    return name + suffix;
}

int usage(const char* why) {
    std::cerr << "bench-work: " << why
              << "\nusage: bench-work NODE [--rounds R] [--out DIR --suffix S [--atomic]] [--timing] (FILE... | --list LISTFILE)\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc < 2) return usage("no node given");
    const std::string node = argv[1];
    long long rounds = 1;
    std::string out_dir, suffix, list;
    bool timing = false, atomic = false;
    std::vector<std::string> files;
    for (int i = 2; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "--rounds") rounds = std::stoll(value());
        else if (arg == "--out") out_dir = value();
        else if (arg == "--suffix") suffix = value();
        else if (arg == "--list") list = value();
        else if (arg == "--timing") timing = true;
        else if (arg == "--atomic") atomic = true;
        else files.push_back(arg);
    }
    if (!list.empty()) {
        std::ifstream in(list);
        if (!in) return usage(("cannot read list " + list).c_str());
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) files.push_back(line);
    }
    const auto started = std::chrono::steady_clock::now();
    double slowest = 0;
    std::string printed;
    for (const auto& file : files) {
        const auto one = std::chrono::steady_clock::now();
        const std::string result = steppar_bench::run_node(node, steppar_bench::read_all(file.c_str()), rounds);
        const std::string target = out_dir + "/" + output_name(file, suffix);
        if (!out_dir.empty() && atomic)
            steppar_bench::write_atomically(target.c_str(), result);
        else if (!out_dir.empty())
            steppar_bench::write_all(target.c_str(), result);
        else
            printed += file + " " + result;
        slowest = std::max(slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - one).count());
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (!printed.empty()) std::fwrite(printed.data(), 1, printed.size(), stdout);
    if (timing)
        std::printf("{\"files\":%zu,\"seconds\":%.6f,\"slowest_file_seconds\":%.6f}\n", files.size(), seconds, slowest);
    return 0;
} catch (const std::exception& e) {
    std::cerr << "bench-work: " << e.what() << "\n";
    return 1;
}
