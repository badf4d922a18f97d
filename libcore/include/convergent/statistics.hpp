// Sec. 2 statistics: per-unit mean and standard deviation, within-net and
// between-net correlation, accumulated chunk by chunk.
//
// The units of every net on one layer are laid side by side ("blocks"), so a
// single accumulator of width T = sum of the nets' widths yields the
// within-net correlation of each net and the between-net correlation of every
// net pair. Chunks are centred and merged in float64 with the pairwise update
// of Chan, Golub & LeVeque, so the result does not suffer from the
// cancellation of raw sums of squares.
//
// With the CPU backend a chunk is centred around the running mean while it
// is packed (float32 -> float64, once), its centred cross-products are added
// to the comoment by one BLAS dsyrk, and the Chan merge reduces to two
// rank-one corrections. A chunk whose mean lies far from the running mean
// (relative to its spread: the first chunk, drifting data) is re-centred on
// its own mean first, so the correction never cancels more than a few bits.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "convergent/activations.hpp"
#include "convergent/backend.hpp"

namespace convergent {

class MomentAccumulator {
public:
    MomentAccumulator() = default;
    // block_widths: number of units of each net, in order. Throws
    // OutOfMemory (naming the layer when given) if the width x width
    // comoment matrix cannot be allocated.
    explicit MomentAccumulator(std::vector<index_t> block_widths);
    // The same, with names for error messages: the layer and one name per
    // net ("layer 'conv1', net 'b', unit 3: ...").
    MomentAccumulator(std::vector<index_t> block_widths, std::string layer, std::vector<std::string> net_names);

    // "layer 'conv1'" or "moment accumulator" when unnamed.
    std::string description() const;
    // "net 'b', unit 3" for a column of the accumulator ("net 1, unit 3" unnamed).
    std::string describe_unit(index_t column) const;

    const std::vector<index_t>& block_widths() const { return widths_; }
    index_t width() const { return width_; }
    index_t count() const { return count_; }

    // Adds rows x width() values (row-major float, leading dimension ld).
    // The chunk's moments are computed by the backend, merged here. Throws
    // BadData naming the layer, net and unit when the chunk holds NaN/Inf
    // (its moments are not finite); the accumulator is left unchanged.
    void push(const Backend& backend, const float* x, index_t rows, index_t ld);

    // The same chunk pushed in pieces, so a caller streaming several nets
    // needs no side-by-side float32 copy: begin_chunk(rows), then add_block
    // for pieces that together cover every row and column of the chunk
    // exactly once (x: rows x columns row-major float, leading dimension
    // ld, placed at rows [first_row, first_row + rows) and columns
    // [first_column, first_column + columns)), then end_chunk, which throws
    // like push. Pieces of one column range are best added in row order
    // (results are then independent of the piece sizes up to rounding).
    void begin_chunk(const Backend& backend, index_t rows);
    void add_block(const float* x, index_t rows, index_t ld, index_t first_row, index_t first_column,
                   index_t columns);
    // add_block for channels-first images as stored (float32 (N, C, H,
    // W) in C order): image i's columns x positions values (unit-major) start
    // at x + i * image_ld (image_ld >= columns * positions) and become rows
    // [first_row + i * positions, first_row + (i + 1) * positions).
    // Bit-identical to transposing them and calling add_block. Calls for
    // disjoint column ranges of one chunk may run concurrently.
    void add_block_channels_first(const float* x, index_t images, index_t image_ld, index_t positions,
                                  index_t first_row, index_t first_column, index_t columns);
    // Every row of the chunk for a column range at once, read in place when
    // end_chunk runs: x must stay valid and unchanged until then (rows
    // chunk rows; x and ld, or image_ld and positions, as for add_block and
    // add_block_channels_first). Where the CPU kernel forms the products
    // straight from float32 inputs (the chunk is at most 2,048 units wide
    // and the CPU has AVX-512), the values are not copied; elsewhere these
    // are add_block / add_block_channels_first. Results equal those of
    // add_block bit for bit.
    void add_columns(const float* x, index_t ld, index_t first_column, index_t columns);
    void add_columns_channels_first(const float* x, index_t image_ld, index_t positions, index_t first_column,
                                    index_t columns);
    // Whether add_columns* of the open chunk read in place (no copy).
    bool reads_in_place() const { return direct_; }
    void end_chunk();

    // A chunk whose pieces lie in device memory (DLPack CUDA tensors), read
    // in place by backend.device_chunk_moments: images x (height * width)
    // rows of the blocks, which cover every column. The requested
    // chunk-local sample_rows are copied to sample_values like there.
    // Throws BadData naming the unit when the chunk holds NaN/Inf (like
    // end_chunk; the accumulator is left unchanged), Unsupported from a
    // backend without device memory.
    void push_device(const Backend& backend, const std::vector<DeviceChunkBlock>& blocks, index_t images,
                     index_t height, index_t width, const std::vector<index_t>& sample_rows = {},
                     float* sample_values = nullptr);

    // Adds moments computed elsewhere (count rows, their mean and comoment).
    void merge_moments(index_t count, const double* mean, const double* comoment);
    // Chan merge of another accumulator of the same block widths.
    void merge(const MomentAccumulator& other);

    // CPU backend: form each chunk's centred products in float32 (ssyrk, in
    // slices of 256 rows, each added into the float64 comoment; the means,
    // the Chan merges and the correlation stay float64): 1.3x the speed of
    // the float64 default above 2,048 units (where it calls dsyrk), no
    // faster below (where the float64 products are formed in place).
    // Accuracy: the float32 sum of a
    // slice errs by at most 256 x 2^-24 (1.5e-5) relative; on activations
    // with varied values that averages out to correlations within 1e-6 of
    // numpy float64 (tests/python/test_statistics_precision.py: 1-3e-7),
    // while long runs of identical values (a silent stretch) approach the
    // bound (tests/test_statistics.cpp: 1.6e-6). Set before the first
    // chunk. Other backends throw Unsupported on the first chunk.
    void set_float32_products(bool on);
    bool float32_products() const { return f32_; }

    const std::vector<double>& mean() const { return mean_; }
    // Row-major width() x width(): sum over samples of centred products.
    // Pushes update one triangle; the first call after them fills the other
    // (once per layer, not per chunk), so like push it must not run
    // concurrently with other calls on the same accumulator.
    const std::vector<double>& comoment() const;

    // Moves the (symmetric) comoment out; the accumulator keeps its count
    // and mean but cannot take pushes any more (finalize_statistics(&&)).
    std::vector<double> take_comoment();

    // Serialisation (binary, little endian, versioned), e.g. to merge
    // accumulators computed on different machines.
    void save(std::ostream& out) const;
    static MomentAccumulator load(std::istream& in, const std::string& what);

private:
    void allocate();  // checks widths_, sizes mean_ and comoment_
    void size_scratch();                     // scratch_mean_/scratch_comoment_ for a backend's chunk
    void merge_chunk_moments(index_t rows);  // checks and merges them
    [[noreturn]] void fail_not_finite(index_t column, index_t rows, bool mean_finite) const;

    std::vector<index_t> widths_;
    std::string layer_;
    std::vector<std::string> net_names_;  // empty, or one per block
    index_t width_ = 0;
    index_t count_ = 0;
    std::vector<double> mean_;
    // Valid in the upper triangle (row-major); the lower one only when
    // symmetric_ (see comoment()).
    mutable std::vector<double> comoment_;
    mutable bool symmetric_ = true;
    std::vector<double> scratch_mean_, scratch_comoment_;

    // The chunk between begin_chunk and end_chunk.
    const Backend* chunk_backend_ = nullptr;  // non-null while a chunk is open
    bool chunk_on_host_ = false;              // CPU backend: packed float64, dsyrk
    index_t chunk_rows_ = 0;
    struct Uninitialised {  // every cell is written by add_block: no zero fill
        double value;
        Uninitialised() {}
    };
    std::vector<Uninitialised> chunk_centred_;  // holds chunk_data_ (padded to start on a 2 MiB page)
    double* chunk_data_ = nullptr;              // chunk_rows_ x width_, minus mean_
    bool f32_ = false;                          // set_float32_products
    struct Uninitialised32 {
        float value;
        Uninitialised32() {}
    };
    std::vector<Uninitialised32> chunk_centred32_, products32_;  // float32: the chunk, one slice's triangle
    float* chunk_data32_ = nullptr;
    float* products32_data_ = nullptr;
    std::vector<double> chunk_sums_, chunk_squares_, chunk_offset_;
    std::vector<float> chunk_values_;         // other backends: the float32 chunk
    // The CPU product kernel that reads the inputs in place (cpu_syrk):
    // used for this chunk, and the column ranges added with add_columns*.
    bool direct_ = false;
    struct InPlace {
        const float* x;
        index_t ld, positions, first_column, columns;
        bool channels_first;
    };
    std::vector<InPlace> in_place_;
    // The checks of add_block / add_block_channels_first (and of
    // add_columns*, named `call` in the messages).
    void require_rows(const char* call, const float* x, index_t rows, index_t ld, index_t first_row,
                      index_t first_column, index_t columns) const;
    void require_images(const char* call, const float* x, index_t images, index_t image_ld, index_t positions,
                        index_t first_row, index_t first_column, index_t columns) const;
    void sum_in_place();
    void add_direct_products(index_t rows);
};

// Adds every image of aligned sources (one per block of acc, in order: same
// images and positions) to acc, chunk_images inputs per chunk, reading each
// source a bounded piece at a time straight into the accumulator's chunk (no
// copy of the sources). on_piece, when given, sees every piece as it is
// read: rows x units float32 values (leading dimension units) of the
// sources' rows [first_row, first_row + rows), which are the accumulator's
// columns [column, column + units); after_chunk(images done) follows each
// chunk. Throws like MomentAccumulator::end_chunk and
// LayerSource::read_images; chunks merged before an error stay merged.
// With image_count >= 0 only images [first_image, first_image + image_count)
// are added (one rank's slice of a distributed run, collective.hpp); rows
// stay the sources' rows and after_chunk counts the images done in the range.
// kernel_seconds (when not null) gets the wall-clock seconds of the
// statistics kernel added: packing (from the file mapping or the read
// pieces), dsyrk and the merges, without opening or reading files.
using PieceFn = std::function<void(const float* piece, index_t first_row, index_t rows, index_t units, index_t column)>;
void push_sources(MomentAccumulator& acc, const Backend& backend, const std::vector<const LayerSource*>& sources,
                  index_t chunk_images, const PieceFn& on_piece = {},
                  const std::function<void(index_t)>& after_chunk = {}, index_t first_image = 0,
                  index_t image_count = -1, double* kernel_seconds = nullptr);

// Finalised statistics of one layer over all nets.
struct LayerStatistics {
    std::vector<index_t> block_widths;  // units per net
    std::vector<index_t> block_offsets; // first column of each net
    index_t samples = 0;
    std::vector<double> mean;        // per unit, all nets concatenated
    std::vector<double> stddev;      // population std (Sec. 2: sqrt(E[(X-mu)^2]))
    std::vector<double> correlation; // T x T row-major; 0 in rows/cols of dead units
    std::vector<std::uint8_t> dead;  // per unit: zero variance

    index_t width() const { return index_t(mean.size()); }
    int nets() const { return int(block_widths.size()); }
    // Throws InvalidArgument naming `what` unless 0 <= net < nets().
    void check_net(int net, const char* what) const;
    // Copies the (net_a, net_b) block of the correlation matrix, row-major
    // units(net_a) x units(net_b). net_a == net_b gives the within-net matrix.
    std::vector<double> correlation_block(int net_a, int net_b) const;
    // Population covariance block, corr * std * std (0 for dead units).
    std::vector<double> covariance_block(int net_a, int net_b) const;
    // Dead unit indices of one net (local indices).
    std::vector<index_t> dead_units(int net) const;
};

// A unit is dead when its standard deviation is zero up to float32
// resolution: stddev <= 4 * FLT_EPSILON * |mean| (so a constant unit is dead
// even after rounding) or stddev == 0. Dead units get correlation 0 with every
// unit, themselves included, and are listed in the output.
LayerStatistics finalize_statistics(const MomentAccumulator& acc);
// The same, turning the accumulator's comoment into the correlation in
// place (one T x T float64 matrix at the peak instead of two); acc is left
// without its comoment.
LayerStatistics finalize_statistics(MomentAccumulator&& acc);

}  // namespace convergent
