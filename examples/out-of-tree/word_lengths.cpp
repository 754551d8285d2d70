// An out-of-tree steppar plugin with two nodes.
//
//   histogram (partition): for one document, how many words have each length
//                          ("3 12" = twelve words of three letters), one line per length
//   longest   (whole):     the longest word length over all histograms, and where it occurs
#include <steppar/sdk.hpp>

#include <map>
#include <sstream>

void histogram(steppar::PartitionContext& ctx) {
    std::istringstream words(ctx.input().read_text());
    std::map<std::size_t, std::size_t> lengths;
    for (std::string word; words >> word;) ++lengths[word.size()];
    for (const auto& [length, count] : lengths) ctx.output().stream() << length << ' ' << count << '\n';
}
STEPPAR_NODE(histogram)

void longest(steppar::WholeContext& ctx) {
    std::size_t best = 0;
    std::string where = "-";
    for (const auto& part : ctx.input().partitions()) {
        std::istringstream lines(part.file.read_text());
        for (std::size_t length, count; lines >> length >> count;)
            if (length > best) best = length, where = part.name;
    }
    ctx.output().stream() << best << ' ' << where << '\n';
}
STEPPAR_NODE(longest)
