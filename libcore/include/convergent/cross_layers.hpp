// Layer-by-layer similarity maps across nets: linear CKA between every layer
// of net a and every layer of net b (and of each net with itself), the maps
// of Nguyen, Raghu & Kornblith (2021), "Do wide and deep networks learn the
// same things?", Sec. 3.1. The nets need not share layer names, counts or
// widths; only the inputs (the same images in the same order).
//
// Each image's features in a layer are one vector (a conv map (C, H, W)
// flattened; a dense layer's C units). Per minibatch of B images every layer
// gets its linear Gram K = X X^T (B x B); HSIC_1, the unbiased estimator of
// Song et al. (2012), is averaged over the minibatches for every pair of
// layers, and
//   CKA(l, m) = mean HSIC_1(K_l, K_m) / sqrt(mean HSIC_1(K_l, K_l) mean HSIC_1(K_m, K_m)).
// Memory: the Grams of every layer of every net for one minibatch
// (layers x B^2 float64) plus one layer's minibatch of features, whatever
// the widths.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "convergent/activations.hpp"
#include "convergent/backend.hpp"

namespace convergent {

// One net's axis of the maps: its layers, in axis order.
struct CrossLayerNet {
    std::string name;
    std::vector<std::string> layers;
};

// The map of nets a <= b (a == b: a net with itself, symmetric, diagonal 1).
struct CrossLayerMap {
    int a = 0, b = 0;            // net indices
    index_t rows = 0, cols = 0;  // layers of a, layers of b
    // rows x cols, row-major; NaN where a layer's mean HSIC_1(K, K) is not
    // positive (a constant layer).
    std::vector<double> cka;
};

struct CrossLayerResult {
    index_t batch_size = 0;      // images per minibatch: min(requested, images)
    index_t batches = 0;         // full minibatches, in input order
    index_t images = 0;          // inputs of every layer
    index_t dropped_images = 0;  // the last partial minibatch, left out
    std::vector<CrossLayerNet> nets;
    // Mean HSIC_1 between every pair of all nets' layers (net order, then
    // axis order), total x total row-major.
    std::vector<double> mean_hsic;
    std::vector<CrossLayerMap> maps;  // (a, b), a <= b, in net order
};

// The order of a net's layers on the axes: "natural" order, runs of digits
// compared as numbers (conv2 < conv10), then the names as bytes.
std::vector<std::string> cross_layer_axis_order(std::vector<std::string> layers);

// Checks that every layer (per net) has the same inputs, at least 4, and
// returns their count; the messages name the nets, layers and files.
index_t check_cross_layer_inputs(const std::vector<std::string>& net_names,
                                 const std::vector<std::vector<const LayerSource*>>& layers);

// The minibatch CKA maps of the given layers (per net, in axis order).
// Every layer must have the same number of inputs (>= 4); batch_size >= 4.
// Minibatch k holds images [k B, (k + 1) B) with B = min(batch_size,
// images); a last partial minibatch is dropped. progress(fraction) after
// each minibatch.
CrossLayerResult cross_layer_cka(const Backend& backend, const std::vector<std::string>& net_names,
                                 const std::vector<std::vector<const LayerSource*>>& layers, index_t batch_size,
                                 const std::function<void(double)>& progress = {});

// CKA from mean HSIC_1 values: hsic_lm / sqrt(hsic_ll hsic_mm), NaN when
// either self term is not positive.
double cka_from_hsic(double hsic_lm, double hsic_ll, double hsic_mm);

}  // namespace convergent
