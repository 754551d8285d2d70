// steppar_bench: the nodes the benchmark suite (bench/) runs. Each has a twin in
// bench/tools/work.hpp, so the contenders (per-file programs, the ideal loop) do the very same
// work and their outputs can be compared byte for byte.
//
//   noop  (partition) reads nothing and writes an empty output: what is left is engine cost
//   burn  (partition) SHA-256 of the input fed `params:rounds` times: CPU cost proportional to
//                     size x rounds; writes the hex digest and a newline
//   stamp (whole)     writes the wall clock (ns since the epoch) at which it started: placed
//                     after a barrier, it shows how soon downstream work starts after the last
//                     slice's marker
#include "../tools/work.hpp"

#include <steppar/sdk.hpp>

#include <chrono>

void noop(steppar::PartitionContext&) {}
STEPPAR_NODE(noop)

void burn(steppar::PartitionContext& ctx) {
    const long long rounds = ctx.params().integer("rounds");
    if (rounds < 1) throw std::invalid_argument("params:rounds must be at least 1, got " + std::to_string(rounds));
    ctx.output().write(steppar_bench::burn(ctx.input().read_text(), rounds));
}
STEPPAR_NODE(burn)

void stamp(steppar::WholeContext& ctx) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    ctx.output().write(std::to_string(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()) + "\n");
}
STEPPAR_NODE(stamp)
