// eval_sr: the super-resolution evaluation protocol of Johnson et al. (and SRCNN before them):
// upscale each low-resolution test image by the factor, round to 8 bits, and measure PSNR and SSIM
// against the ground truth on the BT.601 luma (Y) channel with `factor` pixels cropped from each
// side. Bicubic upscaling of the given Set5 x4 inputs gives the paper's baseline, 28.43 dB;
// --method model runs a network trained by train_sr on the same inputs.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <perceptual/app/images.hpp>
#include <perceptual/app/options.hpp>
#include <perceptual/io/color.hpp>
#include <perceptual/io/image.hpp>
#include <perceptual/io/metrics.hpp>
#include <perceptual/io/resample.hpp>
#include <perceptual/nets/super_resolver.hpp>
#include <perceptual/train/data.hpp>
#include <regex>
#include <string>
#include <vector>

using namespace perceptual;
using TensorF = Tensor<float, Cpu>;
namespace fs = std::filesystem;

namespace {

struct Options {
  std::string dir, method = "bicubic", model, csv, save_dir;
  int factor = 4;
  bool factor_given = false;  // --factor on the command line (else a model's factor is taken)
  bool degrade = false;
};

// One test image: the ground truth and, when the folder has one for this factor, its LR input.
struct Pair {
  std::string name;  // the HR file's stem without "_HR", e.g. img_001_SRF_4
  fs::path hr;
  std::optional<fs::path> lr;
};

struct Result {
  std::string name, source;
  Size2 hr_size;
  double psnr = 0, ssim = 0;
};

// Pairs NAME_HR.ext / NAME_LR.ext by name. A given LR file is used unless --degrade, or unless the
// name says it was made for another factor (the "_SRF_<k>" of the standard sets, k != factor).
std::vector<Pair> find_pairs(const Options& o) {
  const fs::path dir(o.dir);
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw FileError("folder " + o.dir + " does not exist");
  if (!fs::is_directory(dir, ec)) throw FileError(o.dir + " is not a folder");
  static const std::regex srf(".*_SRF_([0-9]+)$");
  std::vector<Pair> pairs;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path& p = entry.path();
    const std::string stem = p.stem().string();
    if (!entry.is_regular_file() || !train::is_image_file(p) || !stem.ends_with("_HR")) continue;
    Pair pair{stem.substr(0, stem.size() - 3), p, std::nullopt};
    std::smatch m;
    const bool other_factor = std::regex_match(pair.name, m, srf) && std::stoi(m[1].str()) != o.factor;
    const fs::path lr = dir / (pair.name + "_LR" + p.extension().string());
    if (!o.degrade && !other_factor && fs::is_regular_file(lr, ec)) pair.lr = lr;
    pairs.push_back(std::move(pair));
  }
  if (pairs.empty())
    throw FileError("folder " + o.dir + " has no test images (expected NAME_HR.png with NAME_LR.png, e.g. " +
                    "img_001_SRF_4_HR.png and img_001_SRF_4_LR.png)");
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.name < b.name; });
  return pairs;
}

// The upscaling under test: bicubic, or a network (`net`, for --method model).
TensorF upscale(const Options& o, nets::SuperResolver* net, const TensorF& lr) {
  if (net) return net->upscale(lr);
  return io::resize_bicubic(lr, o.factor * lr.h(), o.factor * lr.w());
}

Result evaluate(const Options& o, nets::SuperResolver* net, const Pair& pair) {
  TensorF hr = io::read_image<float>(pair.hr);
  TensorF lr;
  Result r{pair.name, pair.lr ? "given" : "made", {}, 0, 0};
  if (pair.lr) {
    lr = io::read_image<float>(*pair.lr);
    if (hr.h() != o.factor * lr.h() || hr.w() != o.factor * lr.w())
      throw ShapeError(pair.name + ": HR " + pair.hr.filename().string() + " is " + to_string(hr.shape().spatial()) +
                       " but LR " + pair.lr->filename().string() + " is " + to_string(lr.shape().spatial()) +
                       "; with --factor " + std::to_string(o.factor) + " the HR must be exactly " +
                       std::to_string(o.factor) + " x the LR (use --degrade to make the LR from the HR)");
  } else {
    // The protocol's modcrop: keep the top-left part whose sides are multiples of the factor.
    hr = app::crop_top_left(hr, hr.h() / o.factor * o.factor, hr.w() / o.factor * o.factor);
    if (hr.h() == 0 || hr.w() == 0)
      throw ShapeError(pair.name + ": HR " + pair.hr.filename().string() + " is smaller than the factor " +
                       std::to_string(o.factor));
    // Johnson et al. sec. 4.2: Gaussian blur (sigma 1.0), bicubic x1/factor, an 8-bit image.
    lr = io::sr_degrade(hr, o.factor);
  }
  const TensorF sr = upscale(o, net, lr);
  r.hr_size = {hr.h(), hr.w()};
  r.psnr = io::psnr_y(sr, hr, o.factor);
  r.ssim = io::ssim_y(sr, hr, o.factor);
  if (!o.save_dir.empty())
    io::write_image(sr, fs::path(o.save_dir) / (pair.name + "_" + o.method + "_x" + std::to_string(o.factor) + ".png"));
  return r;
}

// The network for --method model, its factor checked against --factor (or taken when none is given).
std::unique_ptr<nets::SuperResolver> load_model(Options& o) {
  if (o.method != "model") return nullptr;
  auto net = std::make_unique<nets::SuperResolver>(o.model);
  if (o.factor_given && net->factor() != o.factor)
    throw ArgumentError("--model " + o.model + " is a x" + std::to_string(net->factor()) +
                        " network, but --factor is " + std::to_string(o.factor));
  o.factor = net->factor();
  return net;
}

int run(Options o) {
  const auto net = load_model(o);  // fail before any work
  const auto pairs = find_pairs(o);
  if (!o.save_dir.empty()) {
    std::error_code ec;
    fs::create_directories(o.save_dir, ec);
    if (!fs::is_directory(o.save_dir, ec)) throw FileError("--save-dir " + o.save_dir + " cannot be created");
  }
  const std::string method = net ? "model " + fs::path(o.model).filename().string() : o.method;
  std::printf("%s: %s x%d, PSNR and SSIM on Y (BT.601), %d-pixel border cropped\n", o.dir.c_str(), method.c_str(),
              o.factor, o.factor);
  std::printf("%-28s %11s %6s %9s %8s\n", "image", "HR size", "LR", "PSNR(dB)", "SSIM");
  std::vector<Result> results;
  double psnr_sum = 0, ssim_sum = 0;
  for (const auto& pair : pairs) {
    const Result r = evaluate(o, net.get(), pair);
    std::printf("%-28s %11s %6s %9.2f %8.4f\n", r.name.c_str(), to_string(r.hr_size).c_str(), r.source.c_str(), r.psnr,
                r.ssim);
    std::fflush(stdout);
    psnr_sum += r.psnr;
    ssim_sum += r.ssim;
    results.push_back(r);
  }
  const double n = static_cast<double>(results.size());
  const std::string mean = "mean (" + std::to_string(results.size()) + (results.size() == 1 ? " image)" : " images)");
  std::printf("%-47s %9.2f %8.4f\n", mean.c_str(), psnr_sum / n, ssim_sum / n);
  if (!o.csv.empty()) {
    std::ofstream csv(o.csv);
    if (!csv) throw FileError("--csv " + o.csv + ": cannot open for writing");
    csv << "image,hr_height,hr_width,lr,psnr_y,ssim_y\n";
    csv.precision(10);
    for (const auto& r : results)
      csv << r.name << ',' << r.hr_size.h << ',' << r.hr_size.w << ',' << r.source << ',' << r.psnr << ',' << r.ssim
          << '\n';
    csv << "mean,,,," << psnr_sum / n << ',' << ssim_sum / n << '\n';
    if (!csv) throw FileError("--csv " + o.csv + ": write failed");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App cli{
      "Super-resolution evaluation (Johnson et al. 2016, sec. 4.2): upscales every NAME_LR image of a test folder "
      "by the factor, rounds it to 8 bits and reports PSNR and SSIM against NAME_HR on the Y channel (ITU-R "
      "BT.601, 16..235) with `factor` pixels cropped from each side, per image and on average. Where the folder "
      "has no LR image for the factor (e.g. x8 on the x4 sets), or with --degrade, the LR input is made from "
      "the HR image as in the paper: Gaussian blur (sigma 1.0), then bicubic downscaling by the factor. "
      "--method model upscales with a network from train_sr instead (its factor is the default --factor); "
      "networks trained on the paper's degradation are best measured with --degrade."};
  cli.add_option("dir", o.dir, "test folder, e.g. /work/shared/data/sr/Set5/x4")->required();
  const auto factor = cli.add_option("--factor,-f", o.factor, "upscaling factor (default: a model's own, else 4)")
                          ->capture_default_str()
                          ->check(CLI::Range(2, 16));
  cli.add_option("--method", o.method, "bicubic, or model (a trained SuperResolutionNet, --model)")
      ->capture_default_str()
      ->check(CLI::IsMember({"bicubic", "model"}));
  cli.add_option("--model", o.model, "super-resolution network (safetensors, from train_sr) for --method model")
      ->check(CLI::ExistingFile);
  cli.add_flag("--degrade", o.degrade, "make every LR input from its HR image (blur sigma 1.0, bicubic x1/factor)");
  cli.add_option("--csv", o.csv, "also write the per-image figures and the mean as CSV");
  cli.add_option("--save-dir", o.save_dir, "save each upscaled image as DIR/NAME_<method>_x<factor>.png");
  app::add_max_pixels_option(cli);
  CLI11_PARSE(cli, argc, argv);
  o.factor_given = factor->count() > 0;

  return app::report_errors("eval_sr", [&] {
    if (o.method == "model" && o.model.empty()) throw ArgumentError("--method model needs --model FILE");
    if (o.method != "model" && !o.model.empty()) throw ArgumentError("--model needs --method model");
    return run(o);
  });
}
