export {
  loadMobileNetV2Weights,
  type MobileNetV2Args,
  type MobileNetV2WeightFiles,
  mobileNetV2,
} from './mobilenet-v2.js';
