// CT window presets (width / level in HU), OHIF conventions. Keys 1-4 follow OHIF:
// 1 soft tissue, 2 lung, 3 bone, 4 brain; liver has no key. 'default' = the image's own window.
export const PRESETS = {
  'soft tissue': { label: 'Soft tissue', windowWidth: 400, windowCenter: 40, key: '1' },
  lung: { label: 'Lung', windowWidth: 1500, windowCenter: -600, key: '2' },
  bone: { label: 'Bone', windowWidth: 2500, windowCenter: 480, key: '3' },
  brain: { label: 'Brain', windowWidth: 80, windowCenter: 40, key: '4' },
  liver: { label: 'Liver', windowWidth: 150, windowCenter: 90, key: null },
  default: { label: 'Default', windowWidth: null, windowCenter: null, key: null },
};

/** 'Soft tissue', 'soft-tissue', 'SOFT_TISSUE' -> 'soft tissue'. Returns null when unknown. */
export function presetKey(name) {
  if (typeof name !== 'string') return null;
  const k = name.trim().toLowerCase().replace(/[-_]+/g, ' ').replace(/\s+/g, ' ');
  return Object.prototype.hasOwnProperty.call(PRESETS, k) ? k : null;
}
