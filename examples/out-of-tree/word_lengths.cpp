// An out-of-tree steppar plugin with two nodes.
//
//   histogram (partition): for one document, how many words have each length
//                          ("3 12" = twelve words of three letters), one line per length;
//                          counts "words" (shown by `steppar-host status`)
//   longest   (whole):     the longest word length over all histograms, and where it occurs
#include <steppar/io.hpp>
#include <steppar/sdk.hpp>

#include <map>
#include <sstream>

void histogram(steppar::PartitionContext& ctx) {
    std::map<std::size_t, std::size_t> lengths;
    std::size_t words = 0;
    for (const std::string_view line : steppar::io::lines(ctx.input())) {  // streamed, not loaded
        std::istringstream in{std::string(line)};
        for (std::string word; in >> word; ++words) ++lengths[word.size()];
    }
    ctx.count("words", static_cast<long long>(words));
    for (const auto& [length, count] : lengths) ctx.output().stream() << length << ' ' << count << '\n';
}
STEPPAR_NODE(histogram)

void longest(steppar::WholeContext& ctx) {
    std::size_t best = 0;
    std::string where = "-";
    for (const auto& part : ctx.input().partitions())
        for (const std::string_view line : steppar::io::lines(part.file)) {
            std::istringstream in{std::string(line)};
            for (std::size_t length, count; in >> length >> count;)
                if (length > best) best = length, where = part.name;
        }
    ctx.output().stream() << best << ' ' << where << '\n';
}
STEPPAR_NODE(longest)
