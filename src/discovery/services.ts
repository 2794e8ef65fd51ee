/** Service names under which roles register, the same in every discovery implementation. */
export const SERVICES = {
  front: 'lncluster-front',
  back: 'lncluster-back',
  balancer: 'lncluster-balancer',
} as const;
