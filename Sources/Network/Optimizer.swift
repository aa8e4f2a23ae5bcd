import Foundation
import LinearAlgebra

/// First-order optimisers over the parameters of an `MLP`.
public struct Optimizer: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// v <- mu v + g, w <- w - eta v  (heavy-ball momentum).
        case momentum
        /// Adam (Kingma and Ba): m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2,
        /// w <- w - eta m_hat / (sqrt(v_hat) + 1e-8).
        case adam
    }

    public var kind: Kind
    public var learningRate: Double
    public var momentum: Double
    public var beta1 = 0.9, beta2 = 0.999
    var step = 0
    var first: [[Double]] = []
    var second: [[Double]] = []

    public init(kind: Kind, learningRate: Double, momentum: Double = 0.9) {
        self.kind = kind
        self.learningRate = learningRate
        self.momentum = momentum
    }

    /// Applies one update; `mask` (same shapes as the weights, 0 or 1)
    /// restricts which weights move (SalUn). Biases are never masked.
    public mutating func apply(to net: inout MLP, gradients: (weights: [Matrix], biases: [[Double]]), mask: [Matrix]? = nil) {
        let layers = net.depth
        if first.isEmpty {
            for l in 0..<layers {
                first.append([Double](repeating: 0, count: net.weights[l].elements.count))
                first.append([Double](repeating: 0, count: net.biases[l].count))
                second.append([Double](repeating: 0, count: net.weights[l].elements.count))
                second.append([Double](repeating: 0, count: net.biases[l].count))
            }
        }
        step += 1
        let b1c = 1 - pow(beta1, Double(step)), b2c = 1 - pow(beta2, Double(step))
        for l in 0..<layers {
            let m = mask?[l]
            net.weights[l].withUnsafeMutableBufferPointer { w in
                gradients.weights[l].withUnsafeBufferPointer { g in
                    update(w, g, slot: 2 * l, mask: m, b1c: b1c, b2c: b2c)
                }
            }
            net.biases[l].withUnsafeMutableBufferPointer { w in
                gradients.biases[l].withUnsafeBufferPointer { g in
                    update(w, g, slot: 2 * l + 1, mask: nil, b1c: b1c, b2c: b2c)
                }
            }
        }
    }

    private mutating func update(_ w: UnsafeMutableBufferPointer<Double>, _ g: UnsafeBufferPointer<Double>, slot: Int,
                                 mask: Matrix?, b1c: Double, b2c: Double) {
        let eta = learningRate, mu = momentum, bt1 = beta1, bt2 = beta2, k = kind
        first[slot].withUnsafeMutableBufferPointer { m in
            second[slot].withUnsafeMutableBufferPointer { v in
                for i in 0..<w.count {
                    if let mask, mask.elements[i] == 0 { continue }
                    switch k {
                    case .momentum:
                        m[i] = mu * m[i] + g[i]
                        w[i] -= eta * m[i]
                    case .adam:
                        m[i] = bt1 * m[i] + (1 - bt1) * g[i]
                        v[i] = bt2 * v[i] + (1 - bt2) * g[i] * g[i]
                        w[i] -= eta * (m[i] / b1c) / ((v[i] / b2c).squareRoot() + 1e-8)
                    }
                }
            }
        }
    }
}
