# ResNet-50, asymmetric loss with the ASL paper's settings for VOC and COCO:
# gamma_neg 4, gamma_pos 0, clip 0.05, no gradient through the focusing weight.
_base_ = ['./resnet50_voc07_bce.py']
model = dict(
    head=dict(
        loss=dict(_delete_=True, type='MultiLabelAsymmetricLoss', gamma_neg=4.0,
                  gamma_pos=0.0, clip=0.05, detach_focal_weight=True)))
