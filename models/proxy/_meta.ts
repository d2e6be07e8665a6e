/**
 * Static facts about each proxy architecture, shared by the trainer and the registry literal.
 *
 * @module
 */
import type { ProxyName } from "./architectures.ts";

/** Architecture family and width multiplier of each proxy model. */
export const PROXY_FAMILY: Record<ProxyName, { family: "resnet" | "mobilenetv2" | "vit"; width: number }> = {
  proxy_resnet: { family: "resnet", width: 1 },
  proxy_mbv2: { family: "mobilenetv2", width: 1 },
  proxy_mbv2_w05: { family: "mobilenetv2", width: 0.5 },
  proxy_vit: { family: "vit", width: 1 },
};
