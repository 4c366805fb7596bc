export {
  detectFeatures,
  type FeatureCheck,
  type Features,
  KERNEL_FEATURES,
  type KernelFeature,
  missing,
  TOOLS,
  type Tool,
  type ToolCheck,
} from './features.ts';
