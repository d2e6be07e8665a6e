/**
 * The data layer: JPEG decoding, preprocessing specs, ImageNet folders, seeded calibration
 * samples, Fashion-MNIST (the proxy suite), PASCAL VOC annotations / mAP / YOLO decoding, and
 * classification metrics. Everything here produces host arrays (`Float32Array` NCHW batches,
 * `Int32Array` labels); nothing depends on the tensor runtime except its seeded `Random`.
 *
 * @example
 * ```ts ignore
 * import { ImageNetDataset, sampleCalibration, tfSlimSpec, TopKAccumulator } from "./mod.ts";
 * const ds = await ImageNetDataset.fromList("imagenet/ilsvrc2012_val_subset1300_227px");
 * const calib = sampleCalibration(ds, 256, 0); // calib.ids and calib.hash go into the record
 * const acc = new TopKAccumulator(1000);
 * for await (const b of ds.batches({ spec: tfSlimSpec(224), batchSize: 64 })) {
 *   // acc.add(model(b.images), b.labels);
 * }
 * ```
 *
 * @module
 */
export { decodeJpeg, readJpeg, type RgbImage } from "./image.ts";
export {
  applyGeometry,
  centerCrop,
  centralFractionCrop,
  describeGeometry,
  Geometry,
  IMAGENET_MEAN,
  IMAGENET_STD,
  Interpolation,
  Normalization,
  outputSize,
  plainResizeSpec,
  preprocess,
  PreprocessSpec,
  type Raster,
  resize,
  tfSlimSpec,
  torchvisionResizeSize,
  torchvisionSpec,
} from "./preprocess.ts";
export {
  type BatchOptions,
  detectImageNetLayout,
  type ImageBatch,
  type ImageEntry,
  ImageNetDataset,
  type ImageNetLayout,
  NUM_CLASSES as IMAGENET_NUM_CLASSES,
  openImageNet,
  parseLabelList,
  parseLocSolution,
  readSynsets,
  VAL_GROUND_TRUTH as IMAGENET_VAL_GROUND_TRUTH,
} from "./imagenet.ts";
export { type CalibrationSample, hashIds, type HasIds, sampleCalibration } from "./sampler.ts";
export {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  type FashionMnistSplit,
  gather,
  type LayoutOptions,
  loadFashionMnist,
  loadFashionMnistRaw,
  type RawFashionMnist,
  type RawSplit,
  type SourceOptions,
  TEST_PER_CLASS as FASHION_MNIST_TEST_PER_CLASS,
  toLayout,
} from "./fashion_mnist.ts";
export {
  ap11,
  apAllPoint,
  type Box,
  decodeYolo,
  type Detection,
  evaluateVoc,
  type GtObject,
  iou,
  loadVocDevkit,
  nms,
  type NormalizedDetection,
  parseCocoVoc,
  parseGtSubset,
  parseVocXml,
  toVocDetections,
  VOC_CLASSES,
  type VocEval,
  type VocImage,
  vocIou,
  YOLO_NANO_VOC,
  type YoloConfig,
  type YoloHead,
  type YoloHeadConfig,
} from "./voc.ts";
export { rankOfLabel, topK, TopKAccumulator, type TopKResult } from "./metrics.ts";
